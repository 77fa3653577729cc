#include "schema/collection.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace strata::schema {
namespace {

boost::json::object Obj(std::string_view text) { return boost::json::parse(text).as_object(); }

TEST(CollectionTest, BaseCollectionGetsAnIdField) {
  auto r = CollectionFromJson(Obj(R"J({"name":"posts","type":"base","fields":[
      {"name":"title","type":"text","required":true,"max":200},
      {"name":"status","type":"select","values":["active","draft"],"maxSelect":1},
      {"name":"tags","type":"select","values":["a","b","c"],"maxSelect":3}]})J"),
                              nullptr);
  ASSERT_TRUE(r.errors.empty()) << boost::json::serialize(r.errors);
  const auto& c = r.collection;
  EXPECT_EQ(c.name, "posts");
  EXPECT_EQ(c.id.rfind("pbc_", 0), 0u);
  ASSERT_EQ(c.fields.size(), 4u);
  EXPECT_EQ(c.fields[0].name, "id");
  EXPECT_TRUE(c.fields[0].IsPrimaryKey());
  EXPECT_TRUE(c.fields[0].system);
  EXPECT_EQ(c.fields[1].IntOption("max"), 200);
  EXPECT_TRUE(c.fields[1].required);
  EXPECT_FALSE(c.fields[2].IsMultiple());
  EXPECT_TRUE(c.fields[3].IsMultiple());
  EXPECT_EQ(c.fields[1].id.rfind("text", 0), 0u);
  EXPECT_FALSE(c.list_rule.has_value());  // null: superusers only
}

TEST(CollectionTest, AuthCollectionGetsSystemFieldsIndexesAndOptions) {
  auto r = CollectionFromJson(Obj(R"J({"name":"users","type":"auth","listRule":""})J"), nullptr);
  ASSERT_TRUE(r.errors.empty());
  const auto& c = r.collection;
  for (const char* name : {"id", "password", "tokenKey", "email", "emailVisibility", "verified"}) {
    ASSERT_NE(c.FindField(name), nullptr) << name;
    EXPECT_TRUE(c.FindField(name)->system) << name;
  }
  EXPECT_TRUE(c.FindField("password")->hidden);
  EXPECT_TRUE(c.FindField("tokenKey")->hidden);
  EXPECT_FALSE(c.FindField("email")->hidden);
  EXPECT_EQ(c.list_rule, "");
  ASSERT_EQ(c.indexes.size(), 2u);
  EXPECT_NE(c.indexes[0].find("(`tokenKey`)"), std::string::npos);
  EXPECT_NE(c.indexes[1].find("WHERE `email` != ''"), std::string::npos);
  auto json = CollectionToJson(c);
  EXPECT_TRUE(json.contains("passwordAuth"));
  EXPECT_EQ(json.at("authRule").as_string(), "");
  EXPECT_EQ(json.at("type").as_string(), "auth");
}

TEST(CollectionTest, TypeErrorsBecomeFieldErrors) {
  auto r = CollectionFromJson(Obj(R"J({"name":5,"type":"weird","listRule":7,"fields":[{"name":"x","type":"nope"}, 3]})J"),
                              nullptr);
  EXPECT_TRUE(r.errors.contains("name"));
  EXPECT_TRUE(r.errors.contains("type"));
  EXPECT_TRUE(r.errors.contains("listRule"));
  ASSERT_TRUE(r.errors.contains("fields"));
  EXPECT_TRUE(r.errors.at("fields").as_object().contains("0"));
  EXPECT_TRUE(r.errors.at("fields").as_object().contains("1"));
}

TEST(CollectionTest, UpdateMatchesFieldsByIdThenNameAndKeepsSystemFields) {
  auto created = CollectionFromJson(Obj(R"J({"name":"posts","fields":[{"name":"title","type":"text"}]})J"), nullptr);
  const auto& before = created.collection;
  const std::string title_id = before.FindField("title")->id;
  // Rename by id; the id field is omitted by the client and comes back on its own.
  auto body = Obj(R"J({"fields":[{"type":"text","name":"headline"},{"name":"body","type":"editor"}]})J");
  body["fields"].as_array()[0].as_object()["id"] = title_id;
  auto updated = CollectionFromJson(body, &before);
  ASSERT_TRUE(updated.errors.empty());
  const auto& after = updated.collection;
  ASSERT_NE(after.FindField("headline"), nullptr);
  EXPECT_EQ(after.FindField("headline")->id, title_id);
  EXPECT_EQ(after.FindField("id")->id, before.FindField("id")->id);
  EXPECT_EQ(after.id, before.id);
  EXPECT_EQ(after.created, before.created);
  EXPECT_EQ(after.fields.size(), 3u);
}

TEST(CollectionTest, JsonRoundTrip) {
  auto r = CollectionFromJson(Obj(R"J({"name":"t","type":"base","viewRule":"@request.auth.id != ''",
      "fields":[{"name":"n","type":"number","min":1,"max":5,"onlyInt":true}],
      "indexes":["CREATE INDEX `idx_n` ON `t` (`n`)"]})J"),
                              nullptr);
  ASSERT_TRUE(r.errors.empty());
  auto json = CollectionToJson(r.collection);
  auto again = CollectionFromJson(json, nullptr);
  ASSERT_TRUE(again.errors.empty());
  EXPECT_EQ(boost::json::serialize(CollectionToJson(again.collection)).size(), boost::json::serialize(json).size());
  EXPECT_EQ(again.collection.view_rule, "@request.auth.id != ''");
  EXPECT_EQ(again.collection.FindField("n")->NumberOption("max"), 5.0);
  EXPECT_TRUE(again.collection.FindField("n")->BoolOption("onlyInt"));
}

TEST(CollectionTest, NowDateTimeFormat) {
  const auto now = NowDateTime();
  ASSERT_EQ(now.size(), 24u) << now;
  EXPECT_EQ(now[10], ' ');
  EXPECT_EQ(now.back(), 'Z');
  EXPECT_EQ(NewId().size(), 15u);
}

}  // namespace
}  // namespace strata::schema
