#include "api/health.hpp"

#include <spdlog/spdlog.h>

#include "http/router.hpp"
#include "store/store.hpp"

namespace strata::api {

void AddHealthRoutes(http::Router& router, store::Store& store) {
  router.Add(http::Verb::kGet, "/api/health", [&store](http::Request& req) -> boost::asio::awaitable<http::Response> {
    if (auto st = store.Ping(); !st.ok()) {
      spdlog::warn("request {}: health check failed: {}", req.request_id(), st.ToString());
      co_return http::Response::Json(503, R"({"message":"API is not healthy: the database does not answer.","code":503,"data":{}})");
    }
    co_return http::Response::Json(200, R"({"message":"API is healthy.","code":200,"data":{}})");
  });
}

}  // namespace strata::api
