// The records API of PocketBase: list, view, create, update and delete records of a collection,
// under the collection's API rules.
#pragma once

namespace strata::http {
class Router;
}
namespace strata::store {
class Store;
}
namespace strata::schema {
class Catalog;
}
namespace strata::auth {
class TokenService;
}
namespace strata::cache {
class ResponseCache;
}

namespace strata::api {

class RateLimits;

// Registers /api/collections/{collection}/records[/{id}]. List and view answers are kept in
// `cache` until a commit changes what they were built from. The arguments must outlive the router.
// The requests of a batch are counted by `limits` (when given) under their actions' rules.
void AddRecordRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog, auth::TokenService& tokens,
                     cache::ResponseCache& cache, RateLimits* limits = nullptr);

}  // namespace strata::api
