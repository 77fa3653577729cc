#include "api/health.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "api/metrics_route.hpp"
#include "http/router.hpp"
#include "http/server.hpp"
#include "http/test_client.hpp"
#include "obs/access_log.hpp"
#include "obs/metrics.hpp"
#include "store/store.hpp"

namespace strata::api {
namespace {

// A store whose answer the test decides.
class FakeStore final : public store::Store {
 public:
  util::Status Ping() override {
    ++pings;
    return healthy ? util::Status::Ok() : util::Status::Unavailable("disk gone");
  }
  store::Dialect dialect() const override { return store::Dialect::kSqlite; }
  util::Result<store::ResultSet> Query(std::string_view, const util::SqlParams&) override {
    return std::unexpected(util::Status::Unavailable("not used by the health route"));
  }
  void Write(store::WriteFn, store::WriteDone done) override { done(util::Status::Unavailable("read-only fake")); }
  std::atomic<bool> healthy = true;
  std::atomic<int> pings = 0;
};

TEST(HealthTest, ReportsTheStoreState) {
  FakeStore store;
  http::Router router;
  obs::Registry metrics;
  AddHealthRoutes(router, store, std::chrono::milliseconds(200));
  AddMetricsRoute(router, metrics);
  obs::AccessLog log(1, false);
  http::Server server({.port = 0, .threads = 1}, router, metrics, log);
  ASSERT_TRUE(server.Start().ok());

  auto get = [&](const char* target) {
    http::testing::TestConnection c(server.port());
    c.Send(std::string("GET ") + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    return c.Read();
  };
  auto ok = get("/api/health");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, R"({"message":"API is healthy.","code":200,"data":{}})");

  // Within the check interval the last success stands and the store is not asked again.
  const int pings = store.pings;
  ASSERT_EQ(get("/api/health")->status, 200);
  EXPECT_EQ(store.pings, pings);

  store.healthy = false;
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  auto down = get("/api/health");
  ASSERT_TRUE(down);
  EXPECT_EQ(down->status, 503);
  EXPECT_NE(down->body.find("\"code\":503,\"data\":{}}"), std::string::npos) << down->body;
  EXPECT_EQ(down->body.find("disk gone"), std::string::npos);
  // A failure is never reused: recovery shows on the very next request.
  store.healthy = true;
  EXPECT_EQ(get("/api/health")->status, 200);

  // The 503 is counted just after it is written: scrape until it shows, for at most a second.
  auto m = get("/metrics");
  for (int i = 0; i < 100 && m && m->body.find("status=\"503\"} 1") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    m = get("/metrics");
  }
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_EQ(m->Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(m->body.find("strata_http_requests_total{route=\"/api/health\",method=\"GET\",status=\"503\"} 1"),
            std::string::npos)
      << m->body;
  server.Shutdown();
}

}  // namespace
}  // namespace strata::api
