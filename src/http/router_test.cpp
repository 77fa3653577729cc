#include "http/router.hpp"

#include <gtest/gtest.h>

namespace strata::http {
namespace {

Handler Noop() {
  return [](Request&) -> boost::asio::awaitable<Response> { co_return Response{}; };
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add(Verb::kGet, "/api/health", Noop());
    router_.Add(Verb::kGet, "/api/collections/{collection}/records", Noop());
    router_.Add(Verb::kPost, "/api/collections/{collection}/records", Noop());
    router_.Add(Verb::kGet, "/api/collections/{collection}/records/{id}", Noop());
    router_.Add(Verb::kGet, "/api/files/{collection}/{path...}", Noop());
  }
  Router router_;
};

TEST_F(RouterTest, MatchesLiteralRoutes) {
  auto m = router_.Find(Verb::kGet, "/api/health");
  ASSERT_EQ(m.kind, Router::Match::Kind::kFound);
  EXPECT_EQ(m.route->pattern, "/api/health");
}

TEST_F(RouterTest, ExtractsParameters) {
  auto m = router_.Find(Verb::kGet, "/api/collections/posts/records/abc123");
  ASSERT_EQ(m.kind, Router::Match::Kind::kFound);
  EXPECT_EQ(m.route->pattern, "/api/collections/{collection}/records/{id}");
  ASSERT_EQ(m.params.size(), 2u);
  EXPECT_EQ(m.params[0].first, "collection");
  EXPECT_EQ(m.params[0].second, "posts");
  EXPECT_EQ(m.params[1].second, "abc123");
}

TEST_F(RouterTest, RestParameterTakesTheRemainder) {
  auto m = router_.Find(Verb::kGet, "/api/files/posts/rec/photo.png");
  ASSERT_EQ(m.kind, Router::Match::Kind::kFound);
  EXPECT_EQ(m.params[1].second, "rec/photo.png");
  EXPECT_EQ(router_.Find(Verb::kGet, "/api/files/posts/").kind, Router::Match::Kind::kNotFound);
}

TEST_F(RouterTest, HeadFallsBackToGet) {
  auto m = router_.Find(Verb::kHead, "/api/health");
  ASSERT_EQ(m.kind, Router::Match::Kind::kFound);
  EXPECT_EQ(m.route->verb, Verb::kGet);
}

TEST_F(RouterTest, WrongMethodIsMethodNotAllowedWithAllow) {
  auto m = router_.Find(Verb::kDelete, "/api/collections/posts/records");
  ASSERT_EQ(m.kind, Router::Match::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, HEAD, POST");
}

TEST_F(RouterTest, UnknownPathsAreNotFound) {
  for (const char* p : {"/", "/api", "/api/health/", "/api/healthz", "/api/collections//records", "nope",
                        "/api/collections/posts/records/abc/extra"}) {
    EXPECT_EQ(router_.Find(Verb::kGet, p).kind, Router::Match::Kind::kNotFound) << p;
  }
}

TEST_F(RouterTest, RejectsBadPatterns) {
  EXPECT_THROW(router_.Add(Verb::kGet, "no-slash", Noop()), std::invalid_argument);
  EXPECT_THROW(router_.Add(Verb::kGet, "/a/{rest...}/b", Noop()), std::invalid_argument);
  EXPECT_THROW(router_.Add(Verb::kGet, "/api/health", Noop()), std::invalid_argument);
  EXPECT_THROW(router_.Add(Verb::kGet, "/a{b}", Noop()), std::invalid_argument);
}

TEST(PercentDecodeTest, Decodes) {
  EXPECT_EQ(PercentDecode("a%20b+c"), "a b+c");
  EXPECT_EQ(PercentDecode("bad%zzend%"), "bad%zzend%");
  EXPECT_EQ(PercentDecode("%e2%9c%93"), "\xe2\x9c\x93");
}

}  // namespace
}  // namespace strata::http
