#include "api/health.hpp"

#include <spdlog/spdlog.h>

#include <vector>

#include "http/router.hpp"
#include "store/store.hpp"

namespace strata::api {
namespace {

using Clock = std::chrono::steady_clock;

// The calling thread's time of the last successful check of `store`.
Clock::time_point& LastSuccess(const store::Store* store) {
  struct Entry {
    const store::Store* store;
    Clock::time_point at;
  };
  thread_local std::vector<Entry> entries;
  for (auto& e : entries) {
    if (e.store == store) return e.at;
  }
  entries.push_back({store, Clock::time_point{}});
  return entries.back().at;
}

}  // namespace

void AddHealthRoutes(http::Router& router, store::Store& store, std::chrono::milliseconds check_interval) {
  router.Add(http::Verb::kGet, "/api/health",
             [&store, check_interval](http::Request& req) -> boost::asio::awaitable<http::Response> {
               auto& last_success = LastSuccess(&store);
               const auto now = Clock::now();
               if (last_success == Clock::time_point{} || now - last_success >= check_interval) {
                 if (auto st = store.Ping(); !st.ok()) {
                   last_success = Clock::time_point{};
                   spdlog::warn("request {}: health check failed: {}", req.request_id(), st.ToString());
                   co_return http::Response::Json(
                       503, R"({"message":"API is not healthy: the database does not answer.","code":503,"data":{}})");
                 }
                 last_success = now;
               }
               co_return http::Response::Json(200, R"({"message":"API is healthy.","code":200,"data":{}})");
             });
}

}  // namespace strata::api
