#include "api/record_json.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace strata::api {
namespace {

TEST(RecordJsonTest, WriterMatchesTheObjectForm) {
  auto parsed = schema::CollectionFromJson(boost::json::parse(R"J({"name":"people","type":"auth","fields":[
      {"name":"title","type":"text"},{"name":"n","type":"number"},{"name":"ok","type":"bool"},
      {"name":"tags","type":"select","values":["a","b"],"maxSelect":2},{"name":"meta","type":"json"},
      {"name":"secret","type":"text","hidden":true},{"name":"at","type":"geoPoint"}]})J")
                                               .as_object(),
                                           nullptr);
  ASSERT_TRUE(parsed.errors.empty());
  const auto& c = parsed.collection;
  store::ResultSet rs;
  for (const auto& f : c.fields) rs.columns.push_back(f.name);
  auto row = [&](std::vector<std::pair<std::string, util::SqlValue>> values) {
    std::vector<util::SqlValue> r(rs.columns.size());
    for (auto& [k, v] : values) r[static_cast<std::size_t>(rs.ColumnIndex(k))] = v;
    return r;
  };
  const std::vector<std::vector<util::SqlValue>> rows = {
      row({{"id", std::string("abc")},
           {"title", std::string("quote \" back \\ nl \n tab \t ctl \x01 ünï")},
           {"n", 1.5},
           {"ok", int64_t{1}},
           {"tags", std::string(R"(["a","b"])")},
           {"meta", std::string(R"({"x":[1,{"y":null}]})")},
           {"secret", std::string("hidden")},
           {"email", std::string("a@b.co")},
           {"emailVisibility", int64_t{0}},
           {"password", std::string("$argon2id$...")},
           {"tokenKey", std::string("key")},
           {"at", std::string(R"({"lon":1,"lat":2})")}}),
      row({{"id", std::string("def")},
           {"n", int64_t{7}},
           {"emailVisibility", int64_t{1}},
           {"email", std::string("x@y.zz")}}),
  };
  const RecordJsonWriter writer(c, rs);
  for (const auto& r : rows) {
    for (bool show_email : {false, true}) {
      for (bool show_hidden : {false, true}) {
        const RecordJsonOptions o{.show_hidden = show_hidden, .show_email = show_email};
        std::string text;
        writer.Append(text, r, o);
        const auto expected = RecordToJson(c, rs, r, o);
        EXPECT_EQ(boost::json::parse(text), boost::json::value(expected)) << text;
        EXPECT_EQ(text.find("argon2"), std::string::npos);
        EXPECT_EQ(text.find("tokenKey"), std::string::npos);
      }
    }
  }
}

}  // namespace
}  // namespace strata::api
