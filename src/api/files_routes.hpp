// The files API of PocketBase: GET /api/files/{collection}/{recordId}/{filename} (with ?thumb=,
// ?download=1 and, for protected files, ?token=) and POST /api/files/token.
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

// Files are sent from the store without being read into memory (sendfile), with ETag,
// Last-Modified, Range and conditional requests; public ones may be cached for a year (their names
// are never reused). Thumbnails are made on first request, once, and kept next to the file.
// The arguments must outlive the router.
void AddFileRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog, auth::TokenService& tokens,
                   files::FileStore& files);

}  // namespace strata::api
