// The health route, GET /api/health, in PocketBase's shape.
#pragma once

namespace strata::http {
class Router;
}
namespace strata::store {
class Store;
}

namespace strata::api {

// Registers GET /api/health: 200 {"message":"API is healthy.","code":200,"data":{}} when the
// store answers, 503 in the same shape when it does not. `store` must outlive the router.
void AddHealthRoutes(http::Router& router, store::Store& store);

}  // namespace strata::api
