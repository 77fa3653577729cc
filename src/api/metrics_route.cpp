#include "api/metrics_route.hpp"

#include "http/router.hpp"
#include "obs/metrics.hpp"

namespace strata::api {

void AddMetricsRoute(http::Router& router, obs::Registry& registry) {
  router.Add(http::Verb::kGet, "/metrics", [&registry](http::Request&) -> boost::asio::awaitable<http::Response> {
    co_return http::Response{200, "text/plain; version=0.0.4; charset=utf-8", registry.Render(), {}};
  });
}

}  // namespace strata::api
