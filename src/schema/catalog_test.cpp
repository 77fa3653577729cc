#include "schema/catalog.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>

#include "store/sqlite_store.hpp"

namespace strata::schema {
namespace {

boost::json::object Obj(std::string_view text) { return boost::json::parse(text).as_object(); }

class CatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("strata_catalog_test_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    auto store = store::OpenSqliteStore({.dir = dir_});
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    auto catalog = Catalog::Open(*store_);
    ASSERT_TRUE(catalog) << catalog.error().ToString();
    catalog_ = std::move(*catalog);
  }
  void TearDown() override {
    catalog_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  ChangeResult Create(std::string_view json) {
    return Wait([&](ChangeDone done) { catalog_->Create(Obj(json), std::move(done)); });
  }
  ChangeResult Update(const std::string& id, std::string_view json) {
    return Wait([&](ChangeDone done) { catalog_->Update(id, Obj(json), std::move(done)); });
  }
  std::vector<std::string> Column(const std::string& sql) {
    auto rs = store_->Query(sql);
    EXPECT_TRUE(rs) << rs.error().ToString();
    std::vector<std::string> out;
    for (const auto& row : rs->rows) out.push_back(std::get<std::string>(row[0]));
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Catalog> catalog_;
};

TEST_F(CatalogTest, BootstrapsSuperusers) {
  auto snap = catalog_->Current();
  const Collection* su = snap->Find("_superusers");
  ASSERT_NE(su, nullptr);
  EXPECT_TRUE(su->system);
  EXPECT_EQ(su->type, CollectionType::kAuth);
  EXPECT_EQ(snap->Find("pbc_3142635823"), su);
  EXPECT_EQ(Column("SELECT name FROM sqlite_master WHERE name = '_superusers'"), std::vector<std::string>{"_superusers"});
  // Opening again neither duplicates nor fails.
  auto again = Catalog::Open(*store_);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)->Current()->collections().size(), 1u);
}

TEST_F(CatalogTest, CreateUpdateDeleteKeepData) {
  auto created = Create(R"J({"name":"posts","listRule":"","fields":[{"name":"title","type":"text"}]})J");
  ASSERT_TRUE(created.status.ok()) << created.status.ToString() << boost::json::serialize(created.errors);
  const std::string id = created.collection->id;
  ASSERT_NE(catalog_->Current()->Find("POSTS"), nullptr);
  ASSERT_TRUE(store_
                  ->WriteAndWait([](store::Tx& tx) -> util::Status {
                    auto r = tx.Exec("INSERT INTO posts (id, title) VALUES ('r1', 'kept')");
                    return r ? util::Status::Ok() : r.error();
                  })
                  .ok());

  auto body = CollectionToJson(*created.collection);
  body["name"] = "articles";
  for (auto& f : body["fields"].as_array()) {
    if (f.as_object()["name"] == "title") f.as_object()["name"] = "headline";
  }
  auto updated = Wait([&](ChangeDone done) { catalog_->Update(id, body, std::move(done)); });
  ASSERT_TRUE(updated.status.ok()) << updated.status.ToString() << boost::json::serialize(updated.errors);
  EXPECT_EQ(Column("SELECT headline FROM articles"), std::vector<std::string>{"kept"});
  EXPECT_EQ(catalog_->Current()->Find("posts"), nullptr);
  EXPECT_NE(catalog_->Current()->Find("articles"), nullptr);

  auto deleted = Wait([&](ChangeDone done) { catalog_->Delete("articles", std::move(done)); });
  ASSERT_TRUE(deleted.status.ok());
  EXPECT_TRUE(Column("SELECT name FROM sqlite_master WHERE name = 'articles'").empty());
  EXPECT_EQ(catalog_->Current()->Find(id), nullptr);
}

TEST_F(CatalogTest, InvalidChangesChangeNothing) {
  auto bad = Create(R"J({"name":"bad name","fields":[{"name":"x","type":"nope"}]})J");
  EXPECT_EQ(bad.status.code(), util::Status::Code::kInvalidArgument);
  EXPECT_FALSE(bad.errors.empty());
  auto dup = Create(R"J({"name":"_superusers"})J");
  EXPECT_EQ(dup.status.code(), util::Status::Code::kInvalidArgument);
  auto view = Create(R"J({"name":"v","type":"view","viewQuery":"SELECT nothing FROM nowhere"})J");
  EXPECT_EQ(view.status.code(), util::Status::Code::kInvalidArgument);
  EXPECT_EQ(view.errors.at("viewQuery").as_object().at("code"), "validation_invalid_view_query");
  EXPECT_EQ(catalog_->Current()->collections().size(), 1u);
  EXPECT_TRUE(Column("SELECT name FROM sqlite_master WHERE name = 'v'").empty());
  auto system = Wait([&](ChangeDone done) { catalog_->Delete("_superusers", std::move(done)); });
  EXPECT_EQ(system.status.code(), util::Status::Code::kInvalidArgument);
  auto missing = Update("nope", "{}");
  EXPECT_EQ(missing.status.code(), util::Status::Code::kNotFound);
}

TEST_F(CatalogTest, ViewsInferTheirFields) {
  ASSERT_TRUE(Create(R"J({"name":"t","fields":[{"name":"n","type":"number"}]})J").status.ok());
  auto view = Create(R"J({"name":"v","type":"view","listRule":"","viewQuery":"SELECT id, n * 2 AS twice FROM t"})J");
  ASSERT_TRUE(view.status.ok()) << boost::json::serialize(view.errors);
  ASSERT_EQ(view.collection->fields.size(), 2u);
  EXPECT_EQ(view.collection->fields[1].name, "twice");
}

TEST_F(CatalogTest, ImportIsAllOrNothingAndResolvesForwardRelations) {
  boost::json::array items = boost::json::parse(R"J([
      {"id":"pbc_posts0000001","name":"posts","fields":[{"name":"author","type":"relation","collectionId":"pbc_users0000001","maxSelect":1}]},
      {"id":"pbc_users0000001","name":"users","type":"auth"}])J")
                                 .as_array();
  auto ok = Wait([&](ChangeDone done) { catalog_->Import(items, false, std::move(done)); });
  ASSERT_TRUE(ok.status.ok()) << ok.status.ToString() << boost::json::serialize(ok.errors);
  EXPECT_NE(catalog_->Current()->Find("posts"), nullptr);
  EXPECT_NE(catalog_->Current()->Find("users"), nullptr);

  boost::json::array broken = boost::json::parse(R"J([{"name":"fine"},{"name":"also bad!"}])J").as_array();
  auto bad = Wait([&](ChangeDone done) { catalog_->Import(broken, true, std::move(done)); });
  EXPECT_EQ(bad.status.code(), util::Status::Code::kInvalidArgument);
  EXPECT_EQ(catalog_->Current()->Find("fine"), nullptr);
  EXPECT_NE(catalog_->Current()->Find("posts"), nullptr);

  boost::json::array only_users = boost::json::parse(R"J([{"id":"pbc_users0000001","name":"users","type":"auth"}])J").as_array();
  auto pruned = Wait([&](ChangeDone done) { catalog_->Import(only_users, true, std::move(done)); });
  ASSERT_TRUE(pruned.status.ok()) << boost::json::serialize(pruned.errors);
  EXPECT_EQ(catalog_->Current()->Find("posts"), nullptr);
  EXPECT_NE(catalog_->Current()->Find("_superusers"), nullptr);  // system collections stay
}

TEST_F(CatalogTest, AnotherProcessesChangesAreSeen) {
  // A second catalog over the same directory, as `strata collections import` would open it.
  auto other_store = store::OpenSqliteStore({.dir = dir_});
  ASSERT_TRUE(other_store);
  auto other = Catalog::Open(**other_store);
  ASSERT_TRUE(other);
  auto r = Wait([&](ChangeDone done) { (*other)->Create(Obj(R"J({"name":"from_cli"})J"), std::move(done)); });
  ASSERT_TRUE(r.status.ok());
  std::this_thread::sleep_for(kCatalogRefreshInterval + std::chrono::milliseconds(50));
  EXPECT_NE(catalog_->Current()->Find("from_cli"), nullptr);
}

}  // namespace
}  // namespace strata::schema
