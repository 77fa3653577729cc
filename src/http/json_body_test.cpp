#include "http/json_body.hpp"

#include <gtest/gtest.h>

namespace strata::http {
namespace {

TEST(JsonBodyTest, ParsesObjects) {
  auto v = ParseJsonBody(R"({"title":"x","n":[1,2]})");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->as_object().at("title").as_string(), "x");
}

TEST(JsonBodyTest, EmptyBodyIsAnEmptyObject) {
  auto v = ParseJsonBody("  \n");
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->is_object());
  EXPECT_TRUE(v->as_object().empty());
}

struct BadCase {
  const char* body;
  const char* where;
};
class MalformedJson : public ::testing::TestWithParam<BadCase> {};

TEST_P(MalformedJson, Is400NamingThePosition) {
  auto v = ParseJsonBody(GetParam().body);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().status, 400);
  EXPECT_NE(v.error().message.find("Failed to load the submitted data due to invalid formatting"), std::string::npos);
  EXPECT_NE(v.error().message.find(GetParam().where), std::string::npos) << v.error().message;
}

INSTANTIATE_TEST_SUITE_P(Cases, MalformedJson,
                         ::testing::Values(BadCase{R"({"a":1,})", "line 1, column 8"},
                                           BadCase{"{\n  \"a\": tru\n}", "line 2, column 8"},
                                           BadCase{R"({"a":1)", "line 1, column 7"},
                                           BadCase{R"({"a":1} x)", "line 1, column 9"},
                                           BadCase{"\xff", "line 1, column 1"}));

}  // namespace
}  // namespace strata::http
