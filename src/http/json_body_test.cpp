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

TEST(RequestBodyTest, Multipart) {
  const std::string body =
      "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\na\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\nb\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"@jsonPayload\"\r\n\r\n{\"n\":1}\r\n"
      "--XyZ--\r\n";
  auto v = ParseRequestBody("multipart/form-data; boundary=XyZ", body);
  ASSERT_TRUE(v) << v.error().message;
  const auto& o = v->as_object();
  EXPECT_EQ(o.at("title").as_string(), "Hello");
  EXPECT_EQ(o.at("tags").as_array().size(), 2u);
  EXPECT_EQ(o.at("n").as_int64(), 1);
}

TEST(RequestBodyTest, MalformedMultipartIs400) {
  for (const char* body : {"garbage", "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
                           "--XyZ\r\nno headers end", "--XyZ\r\nContent-Disposition: form-data\r\n\r\nx\r\n--XyZ--"}) {
    auto v = ParseRequestBody("multipart/form-data; boundary=XyZ", body);
    ASSERT_FALSE(v) << body;
    EXPECT_EQ(v.error().status, 400);
  }
  EXPECT_FALSE(ParseRequestBody("multipart/form-data", "--x--"));
}

TEST(RequestBodyTest, UrlEncoded) {
  auto v = ParseRequestBody("application/x-www-form-urlencoded", "a=1&b=x+y%21&a=2");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->as_object().at("b").as_string(), "x y!");
  EXPECT_EQ(v->as_object().at("a").as_array().size(), 2u);
}

}  // namespace
}  // namespace strata::http
