#include "api/record_resolver.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <iostream>

#include "query/sql.hpp"
#include "schema/ddl.hpp"
#include "store/sqlite_store.hpp"

namespace strata::api {
namespace {

class RecordResolverPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("strata_resolver_test_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    auto store = store::OpenSqliteStore({.dir = dir_});
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    auto catalog = schema::Catalog::Open(*store_);
    ASSERT_TRUE(catalog) << catalog.error().ToString();
    catalog_ = std::move(*catalog);
    auto created = schema::Wait([&](schema::ChangeDone done) {
      catalog_->Create(boost::json::parse(R"J({"name":"places","listRule":"","fields":[
                         {"name":"name","type":"text","searchable":true},
                         {"name":"location","type":"geoPoint"}]})J")
                           .as_object(),
                       std::move(done));
    });
    ASSERT_TRUE(created.status.ok()) << created.status.ToString() << boost::json::serialize(created.errors);
  }
  void TearDown() override {
    catalog_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // The query plan of `SELECT * FROM places WHERE <filter>`, one line per step.
  std::string Plan(std::string_view filter) {
    auto snap = catalog_->Current();
    const schema::Collection* places = snap->Find("places");
    RequestInfo info;
    RecordFieldResolver resolver(*snap, *places, "places", info);
    auto sql = query::BuildSql(filter, resolver);
    EXPECT_TRUE(sql) << sql.error().ToString();
    if (!sql) return {};
    auto rs = store_->Query("EXPLAIN QUERY PLAN SELECT * FROM places WHERE " + sql->text, sql->params);
    EXPECT_TRUE(rs) << rs.error().ToString();
    std::string plan;
    for (const auto& row : rs->rows) plan += std::get<std::string>(row.back()) + "\n";
    return plan;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<schema::Catalog> catalog_;
};

TEST_F(RecordResolverPlanTest, GeoDistanceWithinARadiusSearchesTheRTree) {
  const auto* location = catalog_->Current()->Find("places")->FindField("location");
  const std::string rtree = schema::GeoTable(*catalog_->Current()->Find("places"), *location);
  for (const char* filter : {"geoDistance(location.lon, location.lat, 13.4, 52.5) < 5",
                             "geoDistance(13.4, 52.5, location.lon, location.lat) <= 5",
                             "name = 'x' && geoDistance(location.lon, location.lat, 13.4, 52.5) < 5"}) {
    const std::string plan = Plan(filter);
    SCOPED_TRACE(filter);
    // SQLite's R*Tree answers the box constraints through its index ("VIRTUAL TABLE INDEX 2:…").
    EXPECT_NE(plan.find("SCAN " + rtree + " VIRTUAL TABLE INDEX 2:"), std::string::npos) << plan;
  }
  std::cout << "query plan of geoDistance(location.lon, location.lat, 13.4, 52.5) < 5:\n"
            << Plan("geoDistance(location.lon, location.lat, 13.4, 52.5) < 5");
}

TEST_F(RecordResolverPlanTest, FiltersTheIndexCannotServeDoNotUseIt) {
  // Greater-than, a radius around a pole, and a point from another field are computed row by row.
  for (const char* filter : {"geoDistance(location.lon, location.lat, 13.4, 52.5) > 5",
                             "geoDistance(location.lon, location.lat, 0, 89.99) < 50",
                             "geoDistance(location.lon, location.lat, location.lat, 1) < 5"}) {
    SCOPED_TRACE(filter);
    EXPECT_EQ(Plan(filter).find("_geo_"), std::string::npos);
  }
}

TEST_F(RecordResolverPlanTest, SearchTableIsCreatedWithItsTriggers) {
  auto rs = store_->Query(
      "SELECT name FROM sqlite_master WHERE name LIKE '_fts_places%' AND type IN ('table', 'trigger') ORDER BY name");
  ASSERT_TRUE(rs);
  std::vector<std::string> names;
  for (const auto& row : rs->rows) names.push_back(std::get<std::string>(row[0]));
  EXPECT_EQ(names, (std::vector<std::string>{"_fts_places", "_fts_places_ad", "_fts_places_ai", "_fts_places_au",
                                             "_fts_places_config", "_fts_places_data", "_fts_places_docsize",
                                             "_fts_places_idx"}));
}

}  // namespace
}  // namespace strata::api
