#include "api/record_resolver.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <iostream>

#include "api/test_database.hpp"
#include "query/sql.hpp"
#include "schema/ddl.hpp"

namespace strata::api {
namespace {

class RecordResolverPlanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(db_.Open("strata_resolver_test", R"J({"name":"places","listRule":"","fields":[
                                       {"name":"name","type":"text","searchable":true},
                                       {"name":"location","type":"geoPoint"}]})J"));
  }
  void TearDown() override { db_.Close(); }

  // The query plan of `SELECT * FROM places WHERE <filter>`, one line per step.
  std::string Plan(std::string_view filter) {
    auto snap = db_.catalog->Current();
    const schema::Collection* places = snap->Find("places");
    RequestInfo info;
    RecordFieldResolver resolver(*snap, *places, "places", info);
    auto sql = query::BuildSql(filter, resolver);
    EXPECT_TRUE(sql) << sql.error().ToString();
    if (!sql) return {};
    auto rs = db_.store->Query("EXPLAIN QUERY PLAN SELECT * FROM places WHERE " + sql->text, sql->params);
    EXPECT_TRUE(rs) << rs.error().ToString();
    std::string plan;
    for (const auto& row : rs->rows) plan += std::get<std::string>(row.back()) + "\n";
    return plan;
  }

  testing::TestDatabase db_;
};

TEST_F(RecordResolverPlanTest, GeoDistanceWithinARadiusSearchesTheRTree) {
  const auto* location = db_.catalog->Current()->Find("places")->FindField("location");
  const std::string rtree = schema::GeoTable(*db_.catalog->Current()->Find("places"), *location);
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
  auto rs = db_.store->Query(
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
