#include "http/cors.hpp"

#include <gtest/gtest.h>

namespace strata::http {
namespace {

TEST(CorsTest, StarAllowsAnyOrigin) {
  CorsPolicy p({"*"});
  EXPECT_EQ(p.AllowOrigin("https://a.example"), "*");
  EXPECT_FALSE(p.varies_by_origin());
}

TEST(CorsTest, AllowListEchoesListedOriginsOnly) {
  CorsPolicy p({"https://a.example/", "http://localhost:5173"});
  EXPECT_EQ(p.AllowOrigin("https://a.example"), "https://a.example");
  EXPECT_EQ(p.AllowOrigin("http://localhost:5173"), "http://localhost:5173");
  EXPECT_FALSE(p.AllowOrigin("https://evil.example"));
  EXPECT_FALSE(p.AllowOrigin("https://a.example.evil.example"));
  EXPECT_TRUE(p.varies_by_origin());
}

TEST(CorsTest, PreflightHeaders) {
  CorsPolicy p({"https://a.example"});
  auto h = p.PreflightHeaders("https://a.example", "authorization, content-type");
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h[0].second, "https://a.example");
  EXPECT_EQ(h[2].first, "Access-Control-Allow-Headers");
  EXPECT_EQ(h[2].second, "authorization, content-type");
  EXPECT_TRUE(p.PreflightHeaders("https://evil.example", "").empty());
}

}  // namespace
}  // namespace strata::http
