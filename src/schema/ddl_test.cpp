#include "schema/ddl.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "schema/validate.hpp"

namespace strata::schema {
namespace {

class DdlTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(sqlite3_open(":memory:", &db_), SQLITE_OK); }
  void TearDown() override { sqlite3_close(db_); }

  Collection Parse(std::string_view text, const Collection* base = nullptr) {
    auto r = CollectionFromJson(boost::json::parse(text).as_object(), base);
    EXPECT_TRUE(r.errors.empty()) << boost::json::serialize(r.errors);
    auto errors = Validate(r.collection, base, {}, {});
    EXPECT_TRUE(errors.empty()) << boost::json::serialize(errors);
    return r.collection;
  }

  void Apply(const Collection* before, const Collection* after) {
    for (const auto& sql : MigrationSql(before, after)) {
      char* err = nullptr;
      ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << sql << ": " << (err ? err : "");
    }
  }

  void Exec(const std::string& sql) {
    char* err = nullptr;
    ASSERT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << sql << ": " << (err ? err : "");
  }

  // All rows of a query, each row's columns joined with '|'.
  std::vector<std::string> Rows(const std::string& sql) {
    std::vector<std::string> out;
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(db_);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::string row;
      for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
        if (i) row += '|';
        const auto* text = sqlite3_column_text(stmt, i);
        row += text ? reinterpret_cast<const char*>(text) : "NULL";
      }
      out.push_back(row);
    }
    sqlite3_finalize(stmt);
    return out;
  }

  sqlite3* db_ = nullptr;
};

TEST_F(DdlTest, CreatesTablesWithDefaultsAndIndexes) {
  auto c = Parse(R"J({"name":"posts","fields":[
      {"name":"title","type":"text"},{"name":"likes","type":"number"},{"name":"on","type":"bool"},
      {"name":"tags","type":"select","values":["a","b"],"maxSelect":2},{"name":"meta","type":"json"},
      {"name":"where","type":"geoPoint"}],
      "indexes":["CREATE UNIQUE INDEX idx_title ON whatever (title)"]})J");
  Apply(nullptr, &c);
  Exec("INSERT INTO posts (id) VALUES ('abc')");
  EXPECT_EQ(Rows("SELECT title, likes, \"on\", tags, meta, \"where\" FROM posts"),
            std::vector<std::string>{"|0|0|[]|NULL|{\"lon\":0,\"lat\":0}"});
  EXPECT_EQ(Rows("SELECT length(id) FROM (SELECT id FROM posts WHERE 0 UNION ALL SELECT 'r'||lower(hex(randomblob(7))))"),
            std::vector<std::string>{"15"});
  // The index is created on the collection's own table, whatever the text said.
  EXPECT_EQ(Rows("SELECT tbl_name FROM sqlite_master WHERE name = 'idx_title'"), std::vector<std::string>{"posts"});
}

TEST_F(DdlTest, MigrationsKeepData) {
  auto v1 = Parse(R"J({"name":"items","fields":[
      {"name":"title","type":"text"},{"name":"a","type":"text"},{"name":"b","type":"text"},
      {"name":"gone","type":"text"},{"name":"tag","type":"select","values":["x","y"],"maxSelect":1},
      {"name":"many","type":"select","values":["x","y"],"maxSelect":2}],
      "indexes":["CREATE INDEX idx_title ON items (title)"]})J");
  Apply(nullptr, &v1);
  Exec(R"J(INSERT INTO items (id, title, a, b, gone, tag, many) VALUES ('r1', 'hello', 'A', 'B', 'G', 'x', '["x","y"]'),
          ('r2', 'world', 'A2', 'B2', 'G2', '', '[]'))J");

  // Rename title→headline, swap a and b, drop gone, add count; no conversions: ALTERs only.
  auto body = CollectionToJson(v1);
  auto& fields = body["fields"].as_array();
  for (auto& fv : fields) {
    auto& f = fv.as_object();
    if (f["name"] == "title") f["name"] = "headline";
    else if (f["name"] == "a") f["name"] = "b";
    else if (f["name"] == "b") f["name"] = "a";
  }
  fields.erase(std::remove_if(fields.begin(), fields.end(),
                              [](const boost::json::value& v) { return v.as_object().at("name") == "gone"; }),
               fields.end());
  fields.push_back(boost::json::object{{"name", "count"}, {"type", "number"}});
  body["indexes"] = boost::json::array{"CREATE INDEX idx_headline ON items (headline)"};
  auto v2 = Parse(boost::json::serialize(body), &v1);
  Apply(&v1, &v2);
  EXPECT_EQ(Rows("SELECT id, headline, a, b, tag, many, count FROM items ORDER BY id"),
            (std::vector<std::string>{"r1|hello|B|A|x|[\"x\",\"y\"]|0", "r2|world|B2|A2||[]|0"}));
  EXPECT_EQ(Rows("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'idx_%'"),
            std::vector<std::string>{"idx_headline"});

  // Single ↔ multiple conversions and a table rename rebuild the table.
  auto body3 = CollectionToJson(v2);
  body3["name"] = "things";
  for (auto& fv : body3["fields"].as_array()) {
    auto& f = fv.as_object();
    if (f["name"] == "tag") f["maxSelect"] = 2;
    if (f["name"] == "many") f["maxSelect"] = 1;
  }
  body3["indexes"] = boost::json::array{"CREATE INDEX idx_headline ON items (headline)"};
  auto v3 = Parse(boost::json::serialize(body3), &v2);
  Apply(&v2, &v3);
  EXPECT_EQ(Rows("SELECT id, headline, tag, many FROM things ORDER BY id"),
            (std::vector<std::string>{"r1|hello|[\"x\"]|y", "r2|world|[]|"}));
  EXPECT_EQ(Rows("SELECT tbl_name FROM sqlite_master WHERE name = 'idx_headline'"), std::vector<std::string>{"things"});

  Apply(&v3, nullptr);
  EXPECT_TRUE(Rows("SELECT name FROM sqlite_master WHERE name = 'things'").empty());
}

TEST_F(DdlTest, Views) {
  auto t = Parse(R"J({"name":"t","fields":[{"name":"n","type":"number"}]})J");
  Apply(nullptr, &t);
  Exec("INSERT INTO t (id, n) VALUES ('a', 1), ('b', 2)");
  auto v = Parse(R"J({"name":"big","type":"view","viewQuery":"SELECT id, n FROM t WHERE n > 1"})J");
  Apply(nullptr, &v);
  EXPECT_EQ(Rows("SELECT id FROM big"), std::vector<std::string>{"b"});
}

}  // namespace
}  // namespace strata::schema
