// GET /metrics: the metrics registry in Prometheus text format.
#pragma once

namespace strata::http {
class Router;
}
namespace strata::obs {
class Registry;
}

namespace strata::api {

// Registers GET /metrics. `registry` must outlive the router.
void AddMetricsRoute(http::Router& router, obs::Registry& registry);

}  // namespace strata::api
