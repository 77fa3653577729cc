// The collections API (superusers only): list, view, create, update, delete and import.
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

namespace strata::files {
class FileStore;
}

namespace strata::api {

// Registers /api/collections[/{idOrName}] and PUT /api/collections/import. The arguments must
// outlive the router.
// The files of a deleted collection are removed from `files` (when given).
void AddCollectionRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog,
                         auth::TokenService& tokens, files::FileStore* files = nullptr);

}  // namespace strata::api
