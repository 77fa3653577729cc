// The health route, GET /api/health, in PocketBase's shape.
#pragma once

#include <chrono>

namespace strata::http {
class Router;
}
namespace strata::store {
class Store;
}

namespace strata::api {

// How fresh a successful database check must be to answer 200 without checking again. Each I/O
// thread checks at most this often; a failed check is never reused, so 503 is immediate and a
// recovery is seen on the next request. Load balancers polling many instances (or a benchmark)
// thus cost the database a handful of reads per second, not one per probe.
inline constexpr std::chrono::milliseconds kHealthCheckInterval{100};

// Registers GET /api/health: 200 {"message":"API is healthy.","code":200,"data":{}} when the
// store answers, 503 in the same shape when it does not. `store` must outlive the router.
void AddHealthRoutes(http::Router& router, store::Store& store,
                     std::chrono::milliseconds check_interval = kHealthCheckInterval);

}  // namespace strata::api
