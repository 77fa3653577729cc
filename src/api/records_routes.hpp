// The records API of PocketBase: list, view, create, update and delete records of a collection,
// under the collection's API rules.
#pragma once

#include <memory>
#include <optional>
#include <string_view>

#include "api/auth.hpp"
#include "api/record_change.hpp"
#include "api/record_resolver.hpp"

namespace strata::http {
class Request;
class Router;
}  // namespace strata::http
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
namespace strata::files {
class FileStore;
}

namespace strata::api {

class RateLimits;

// Whether the requester `auth` (nullopt: a guest) may view record `id` of `c` under its view rule
// (superusers always may); `req` gives the rule its @request values.
bool CanViewRecord(const http::Request& req, std::shared_ptr<const schema::Snapshot> snapshot,
                   const schema::Collection& c, std::string_view id, std::optional<AuthInfo> auth, store::Store& store);

// Whether record `id` of `c` passes `rule` for the requester `auth` with the request `info`, asked
// of the database (superusers always pass; a null rule passes superusers only).
bool RecordPassesRule(store::Store& store, std::shared_ptr<const schema::Snapshot> snapshot,
                      const schema::Collection& c, std::string_view id, std::optional<AuthInfo> auth,
                      const std::optional<std::string>& rule, const RequestInfo& info);

// The same for a record no longer stored (a delete's event), given as it was (`record`, every
// field's JSON value): the rule is asked of the database over that row in the table's place, so
// that what it reads of other rows (relations, @collection) is read as for a stored record.
bool DeletedRecordPassesRule(store::Store& store, std::shared_ptr<const schema::Snapshot> snapshot,
                             const schema::Collection& c, const boost::json::object& record,
                             std::optional<AuthInfo> auth, const std::optional<std::string>& rule,
                             const RequestInfo& info);

// The field prefix in `text` (a client's filter or sort) that only superusers may name, as
// PocketBase: "@collection." or "@request." (a loose check of the text, as PocketBase's); nullptr
// when there is none.
const char* SuperuserOnlyField(std::string_view text);

// Whether record `id` of `c` (or the deleted `record`, as above) matches a client's own `filter` (a
// realtime subscription's), read as the records API reads a list's filter for `auth`: hidden fields
// and related records follow the same limits. A filter that cannot be read matches nothing.
bool RecordPassesFilter(store::Store& store, std::shared_ptr<const schema::Snapshot> snapshot,
                        const schema::Collection& c, std::string_view id, std::optional<AuthInfo> auth,
                        const std::string& filter, const RequestInfo& info);
bool DeletedRecordPassesFilter(store::Store& store, std::shared_ptr<const schema::Snapshot> snapshot,
                               const schema::Collection& c, const boost::json::object& record,
                               std::optional<AuthInfo> auth, const std::string& filter, const RequestInfo& info);

// Record `id` of `c` as the records API would show it to `auth` with the query `info.query`
// (expand, fields), or nullopt when it is gone. Expanded records follow their own view rules.
std::optional<boost::json::value> PresentRecord(store::Store& store, std::shared_ptr<const schema::Snapshot> snapshot,
                                                const schema::Collection& c, std::string_view id,
                                                std::optional<AuthInfo> auth, const RequestInfo& info);

// Registers /api/collections/{collection}/records[/{id}]. Committed changes go to `on_change`. List and view answers
// are kept in `cache` until a commit changes what they were built from. Uploaded files go to `files`, described in the
// `_files` table (which must exist: CreateFilesTable). The arguments must outlive the router. The requests of a batch
// are counted by `limits` (when given) under their actions' rules.
void AddRecordRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog, auth::TokenService& tokens,
                     cache::ResponseCache& cache, files::FileStore& files, RateLimits* limits = nullptr,
                     RecordChangeSink on_change = nullptr);

}  // namespace strata::api
