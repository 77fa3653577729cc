// The settings API of PocketBase: GET /api/settings and PATCH /api/settings, for superusers.
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

namespace strata::api {

class SettingsService;

// The arguments must outlive the router.
void AddSettingsRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog,
                       const auth::TokenService& tokens, SettingsService& settings);

}  // namespace strata::api
