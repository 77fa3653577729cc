// Helpers shared by the auth routes (auth.cpp, auth_flows.cpp). Not for other modules.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/token.hpp"
#include "http/response.hpp"
#include "ratelimit/limiter.hpp"
#include "schema/catalog.hpp"
#include "store/store.hpp"

namespace strata::api::internal {

// Where password hashing (deliberately slow) runs, never on an I/O thread.
boost::asio::thread_pool& HashingPool();
// argon2id hash of `password`, computed on the hashing pool; 500 if it cannot be made.
boost::asio::awaitable<std::string> HashOffThread(std::string password);
// Whether `password` matches `hash`, checked on the hashing pool.
boost::asio::awaitable<bool> VerifyOffThread(std::string hash, std::string password);
// A valid argon2id hash to verify against when there is no account, so that refusing a missing
// account takes as long as refusing a wrong password.
const std::string& DummyHash();
// The token of an Authorization header value ("Bearer …" or the bare token).
std::string_view BearerToken(std::string_view header);
// options.<key>.duration of an auth collection, in seconds, or `fallback`.
int64_t OptionDuration(const schema::Collection& c, const char* key, int64_t fallback);
std::vector<std::string> IdentityFields(const schema::Collection& c);
bool PasswordAuthEnabled(const schema::Collection& c);
// The tokenKey column of `row`.
std::string TokenKeyOf(const store::ResultSet& rs, const std::vector<util::SqlValue>& row);
// 200 {"record":…,"token":…}; `refreshable` false and `lifetime` > 0 for impersonation tokens.
http::Response AuthResponse(const auth::TokenService& tokens, const schema::Collection& c, const store::ResultSet& rs,
                            const std::vector<util::SqlValue>& row, bool refreshable = true, int64_t lifetime = 0);
// PocketBase's authRule, checked once a record has proved who it is and before it gets a token: a
// filter over the record with @request.auth as the record itself; "" lets every record in, null
// none. Throws 403 when the record does not pass it.
void RequireAuthRule(store::Store& store, const schema::Snapshot& snap, const schema::Collection& c,
                     const store::ResultSet& rs, const std::vector<util::SqlValue>& row);
// The auth collection `id_or_name`, or nullptr.
const schema::Collection* AuthCollection(const schema::Snapshot& snap, const std::string& id_or_name);
// Throws 429 when `key` is over `rule`.
void Limit(ratelimit::RateLimiter& limiter, const std::string& key, const ratelimit::Rule& rule);

}  // namespace strata::api::internal
