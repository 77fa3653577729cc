#include "schema/validate.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "schema/index.hpp"

namespace strata::schema {
namespace {

Collection Parse(std::string_view text, const Collection* base = nullptr) {
  auto r = CollectionFromJson(boost::json::parse(text).as_object(), base);
  EXPECT_TRUE(r.errors.empty()) << boost::json::serialize(r.errors);
  return r.collection;
}

std::string Code(const boost::json::object& errors, std::string_view key) {
  auto it = errors.find(key);
  if (it == errors.end()) return "";
  return std::string(it->value().as_object().at("code").as_string());
}

std::string FieldCode(const boost::json::object& errors, std::size_t index, std::string_view key) {
  auto it = errors.find("fields");
  if (it == errors.end()) return "";
  const auto& fields = it->value().as_object();
  auto f = fields.find(std::to_string(index));
  if (f == fields.end()) return "";
  return Code(f->value().as_object(), key);
}

TEST(ValidateTest, AcceptsAValidCollection) {
  auto users = Parse(R"J({"name":"users","type":"auth"})J");
  auto posts = Parse(R"J({"name":"posts","fields":[{"name":"title","type":"text","min":1,"max":100},
      {"name":"author","type":"relation","maxSelect":1,"collectionId":"placeholder"}],
      "indexes":["CREATE INDEX idx_title ON posts (title COLLATE NOCASE DESC)"]})J");
  posts.fields[2].options["collectionId"] = users.id;
  auto errors = Validate(posts, nullptr, {&users}, {});
  EXPECT_TRUE(errors.empty()) << boost::json::serialize(errors);
}

TEST(ValidateTest, CollectionNames) {
  auto other = Parse(R"J({"name":"Posts"})J");
  EXPECT_EQ(Code(Validate(Parse(R"J({"name":"posts"})J"), nullptr, {&other}, {}), "name"),
            "validation_collection_name_exists");
  EXPECT_EQ(Code(Validate(Parse(R"J({"name":"_internal"})J"), nullptr, {}, {}), "name"),
            "validation_collection_name_invalid");
  EXPECT_EQ(Code(Validate(Parse(R"J({"name":"bad name"})J"), nullptr, {}, {}), "name"), "validation_match_invalid");
  EXPECT_EQ(Code(Validate(Parse(R"J({"name":"x; DROP TABLE y"})J"), nullptr, {}, {}), "name"),
            "validation_match_invalid");
  EXPECT_EQ(Code(Validate(Parse(R"J({"name":""})J"), nullptr, {}, {}), "name"), "validation_required");
}

TEST(ValidateTest, FieldNamesAndOptions) {
  auto c = Parse(R"J({"name":"t","fields":[
      {"name":"a","type":"text","min":5,"max":2},
      {"name":"A","type":"text"},
      {"name":"expand","type":"text"},
      {"name":"s","type":"select","values":[]},
      {"name":"r","type":"relation","collectionId":"missing"},
      {"name":"f","type":"file","thumbs":["100x100","0x0","12xz"]},
      {"name":"p","type":"text","pattern":"([a-z"},
      {"name":"d","type":"autodate"}]})J");
  auto errors = Validate(c, nullptr, {}, {});
  EXPECT_EQ(FieldCode(errors, 1, "max"), "validation_min_greater_equal_than_required");
  EXPECT_EQ(FieldCode(errors, 2, "name"), "validation_duplicated_field_name");
  EXPECT_EQ(FieldCode(errors, 3, "name"), "validation_not_in_invalid");
  EXPECT_EQ(FieldCode(errors, 4, "values"), "validation_required");
  EXPECT_EQ(FieldCode(errors, 5, "collectionId"), "validation_missing_collection");
  EXPECT_EQ(FieldCode(errors, 6, "thumbs"), "validation_invalid_thumb_format");
  EXPECT_EQ(FieldCode(errors, 7, "pattern"), "validation_invalid_regex");
  EXPECT_EQ(FieldCode(errors, 8, "onCreate"), "validation_required");
}

TEST(ValidateTest, SearchableFieldsTheIndexCanHold) {
  auto posts = Parse(R"J({"name":"posts","fields":[
      {"name":"title","type":"text","searchable":true},
      {"name":"rank","type":"text","searchable":true},
      {"name":"n","type":"number","searchable":true}]})J");
  auto errors = Validate(posts, nullptr, {}, {});
  EXPECT_EQ(FieldCode(errors, 1, "searchable"), "");
  EXPECT_EQ(FieldCode(errors, 2, "searchable"), "validation_invalid_value");
  EXPECT_EQ(FieldCode(errors, 3, "searchable"), "validation_invalid_value");
  auto users =
      Parse(R"J({"name":"users","type":"auth","fields":[{"name":"email","type":"email","searchable":true}]})J");
  auto user_errors = Validate(users, nullptr, {}, {});
  ASSERT_TRUE(user_errors.contains("fields")) << boost::json::serialize(user_errors);
}

TEST(ValidateTest, SystemFieldsCannotBeRenamedOrDropped) {
  auto users = Parse(R"J({"name":"users","type":"auth"})J");
  auto renamed = users;
  for (auto& f : renamed.fields) {
    if (f.name == "email") f.name = "mail";
  }
  EXPECT_FALSE(Validate(renamed, &users, {}, {}).empty());
  auto dropped = users;
  std::erase_if(dropped.fields, [](const Field& f) { return f.name == "verified"; });
  EXPECT_EQ(Code(Validate(dropped, &users, {}, {}), "fields"), "validation_system_field_change");
  auto retyped = Parse(R"J({"name":"t","fields":[{"name":"n","type":"number"}]})J");
  auto changed = retyped;
  changed.fields[1].type = FieldType::kText;
  EXPECT_EQ(FieldCode(Validate(changed, &retyped, {}, {}), 1, "type"), "validation_field_type_change");
}

TEST(ValidateTest, Indexes) {
  auto other =
      Parse(R"J({"name":"o","fields":[{"name":"x","type":"text"}],"indexes":["CREATE INDEX idx_x ON o (x)"]})J");
  auto c = Parse(R"J({"name":"t","fields":[{"name":"x","type":"text"}],"indexes":[
      "CREATE INDEX idx_x ON t (x)",
      "CREATE INDEX idx_y ON t (nope)",
      "DROP TABLE t",
      "CREATE INDEX idx_z ON t (x) WHERE x != ''; DROP TABLE o"]})J");
  auto errors = Validate(c, nullptr, {&other}, {});
  const auto& ie = errors.at("indexes").as_object();
  EXPECT_EQ(ie.at("0").as_object().at("code").as_string(), "validation_existing_index_name");
  EXPECT_EQ(ie.at("1").as_object().at("code").as_string(), "validation_index_column_missing");
  EXPECT_EQ(ie.at("2").as_object().at("code").as_string(), "validation_invalid_index_expression");
  EXPECT_EQ(ie.at("3").as_object().at("code").as_string(), "validation_invalid_index_expression");
}

TEST(ValidateTest, RulesGoThroughTheChecker) {
  auto c = Parse(R"J({"name":"t","listRule":"bad ((","viewRule":"","createRule":"ok = 1"})J");
  int calls = 0;
  auto errors = Validate(c, nullptr, {}, [&](const Collection&, std::string_view rule) {
    ++calls;
    return rule == "bad ((" ? util::Status::InvalidArgument("unexpected end") : util::Status::Ok();
  });
  EXPECT_EQ(calls, 2);  // "" (everyone) needs no check
  EXPECT_EQ(Code(errors, "listRule"), "validation_invalid_rule");
  EXPECT_EQ(Code(errors, "createRule"), "");
}

struct IndexCase {
  const char* sql;
  const char* canonical;  // nullptr: refused
};
class IndexParse : public ::testing::TestWithParam<IndexCase> {};

TEST_P(IndexParse, Canonicalizes) {
  auto idx = ParseIndex(GetParam().sql);
  if (!GetParam().canonical) {
    EXPECT_FALSE(idx) << GetParam().sql;
    return;
  }
  ASSERT_TRUE(idx) << GetParam().sql;
  EXPECT_EQ(IndexSql(*idx), GetParam().canonical);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, IndexParse,
    ::testing::Values(IndexCase{"CREATE INDEX idx ON t (a)", "CREATE INDEX `idx` ON `t` (`a`)"},
                      IndexCase{"create unique index if not exists `i` on \"t\" ([a] collate nocase desc, b asc);",
                                "CREATE UNIQUE INDEX `i` ON `t` (`a` COLLATE nocase DESC, `b`)"},
                      IndexCase{"CREATE UNIQUE INDEX `e` ON `u` (`email`) WHERE `email` != ''",
                                "CREATE UNIQUE INDEX `e` ON `u` (`email`) WHERE `email` != ''"},
                      IndexCase{"CREATE INDEX i ON t (lower(a))", nullptr},
                      IndexCase{"CREATE INDEX i ON t ()", nullptr}, IndexCase{"CREATE INDEX `i`x ON t (a)", nullptr},
                      IndexCase{"CREATE INDEX `a``b` ON t (a)", nullptr}, IndexCase{"CREATE TABLE x (a)", nullptr}));

}  // namespace
}  // namespace strata::schema
