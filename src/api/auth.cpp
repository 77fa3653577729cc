#include "api/auth.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "api/auth_internal.hpp"
#include "api/rate_limits.hpp"
#include "api/record_json.hpp"
#include "api/record_resolver.hpp"
#include "auth/password.hpp"
#include "auth/token.hpp"
#include "http/router.hpp"
#include "query/sql.hpp"
#include "ratelimit/limiter.hpp"
#include "store/store.hpp"

namespace strata::api {
namespace internal {

namespace net = boost::asio;

// Password hashing is deliberately slow: it runs here, never on an I/O thread.
net::thread_pool& HashingPool() {
  static net::thread_pool pool(2);
  return pool;
}

net::awaitable<std::string> HashOffThread(std::string password) {
  auto hash = co_await net::co_spawn(
      HashingPool(), [&]() -> net::awaitable<util::Result<std::string>> { co_return auth::HashPassword(password); },
      net::use_awaitable);
  if (!hash) throw http::ApiError::Internal(hash.error().ToString());
  co_return *hash;
}

net::awaitable<bool> VerifyOffThread(std::string hash, std::string password) {
  co_return co_await net::co_spawn(
      HashingPool(), [&]() -> net::awaitable<bool> { co_return auth::VerifyPassword(hash, password); },
      net::use_awaitable);
}

// Any valid argon2id hash: verified against when the identity is unknown, so that a missing
// account takes as long to refuse as a wrong password.
const std::string& DummyHash() {
  static const std::string hash = auth::HashPassword("strata-dummy-password").value_or("");
  return hash;
}

std::string_view BearerToken(std::string_view header) {
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  if (header.size() > 7 && (header.substr(0, 7) == "Bearer " || header.substr(0, 7) == "bearer "))
    header.remove_prefix(7);
  while (!header.empty() && header.front() == ' ') header.remove_prefix(1);
  return header;
}

int64_t OptionDuration(const schema::Collection& c, const char* key, int64_t fallback) {
  auto it = c.options.find(key);
  if (it == c.options.end() || !it->value().is_object()) return fallback;
  auto d = it->value().as_object().find("duration");
  if (d == it->value().as_object().end() || !d->value().is_number()) return fallback;
  const auto v = d->value().to_number<int64_t>();
  return v > 0 ? v : fallback;
}

std::vector<std::string> IdentityFields(const schema::Collection& c) {
  std::vector<std::string> out;
  auto it = c.options.find("passwordAuth");
  if (it != c.options.end() && it->value().is_object()) {
    auto f = it->value().as_object().find("identityFields");
    if (f != it->value().as_object().end() && f->value().is_array()) {
      for (const auto& v : f->value().as_array()) {
        if (v.is_string() && c.FindField(v.as_string())) out.emplace_back(v.as_string());
      }
    }
  }
  if (out.empty()) out.push_back("email");
  return out;
}

bool PasswordAuthEnabled(const schema::Collection& c) {
  auto it = c.options.find("passwordAuth");
  if (it == c.options.end() || !it->value().is_object()) return true;
  auto e = it->value().as_object().find("enabled");
  return e == it->value().as_object().end() || !e->value().is_bool() || e->value().as_bool();
}

std::string TokenKeyOf(const store::ResultSet& rs, const std::vector<util::SqlValue>& row) {
  const int i = rs.ColumnIndex("tokenKey");
  if (i < 0) return {};
  auto* s = std::get_if<std::string>(&row[static_cast<std::size_t>(i)]);
  return s ? *s : std::string();
}

http::Response AuthResponse(const auth::TokenService& tokens, const schema::Collection& c, const store::ResultSet& rs,
                            const std::vector<util::SqlValue>& row, bool refreshable, int64_t lifetime) {
  const auto record = RecordToJson(c, rs, row, {.show_email = true});
  const std::string id = std::string(record.at("id").as_string());
  const std::string token = tokens.Sign({.record_id = id,
                                         .collection_id = c.id,
                                         .type = "auth",
                                         .key_fingerprint = auth::TokenKeyFingerprint(TokenKeyOf(rs, row)),
                                         .refreshable = refreshable},
                                        lifetime > 0 ? lifetime : OptionDuration(c, "authToken", 604800));
  return http::Response::Json(200, boost::json::serialize(boost::json::object{{"record", record}, {"token", token}}));
}

void RequireAuthRule(store::Store& store, const schema::Snapshot& snap, const schema::Collection& c,
                     const store::ResultSet& rs, const std::vector<util::SqlValue>& row) {
  const auto refused = [] {
    return http::ApiError::Forbidden("The request doesn't satisfy the collection requirements to authenticate.");
  };
  const auto it = c.options.find("authRule");
  if (it == c.options.end() || (it->value().is_string() && it->value().as_string().empty())) return;
  if (!it->value().is_string()) throw refused();  // null: no record of the collection signs in
  RequestInfo info;
  info.auth = RecordToJson(c, rs, row, {.show_hidden = true, .show_email = true});
  info.method = "POST";
  RecordFieldResolver resolver(snap, c, c.name, info);
  auto sql = query::BuildSql(it->value().as_string(), resolver);
  if (!sql) {
    spdlog::warn("authRule of {} cannot be applied: {}", c.name, sql.error().ToString());
    throw refused();
  }
  util::SqlParams params{std::string(info.auth.as_object().at("id").as_string())};
  params.insert(params.end(), sql->params.begin(), sql->params.end());
  auto found = store.Query(fmt::format("SELECT 1 FROM `{}` WHERE `id` = ? AND ({})", c.name, sql->text), params);
  if (!found) throw http::ApiError::Internal(found.error().ToString());
  if (found->rows.empty()) throw refused();
}

const schema::Collection* AuthCollection(const schema::Snapshot& snap, const std::string& id_or_name) {
  const schema::Collection* c = snap.Find(id_or_name);
  return c && c->type == schema::CollectionType::kAuth ? c : nullptr;
}

void Limit(ratelimit::RateLimiter& limiter, const std::string& key, const ratelimit::Rule& rule) {
  // Keys hold request text (identities, ids): a fixed-size digest keeps each entry small.
  const auto d = limiter.Take(auth::TokenKeyFingerprint(key), rule);
  if (d.allowed) return;
  auto e = http::ApiError::TooManyRequests(std::chrono::ceil<std::chrono::seconds>(d.retry_after).count());
  e.headers.emplace_back("RateLimit-Limit", std::to_string(d.limit));
  e.headers.emplace_back("RateLimit-Remaining", "0");
  e.headers.emplace_back("RateLimit-Reset", std::to_string(std::chrono::ceil<std::chrono::seconds>(d.reset).count()));
  throw e;
}

}  // namespace internal

using namespace internal;  // NOLINT: this file's own helpers

std::optional<AuthInfo> Authenticate(const http::Request& req, std::shared_ptr<const schema::Snapshot> snapshot,
                                     store::Store& store, const auth::TokenService& tokens) {
  auto header = req.Header("Authorization");
  if (!header) return std::nullopt;
  return AuthenticateToken(BearerToken(*header), "auth", std::move(snapshot), store, tokens);
}

std::optional<AuthInfo> AuthenticateToken(std::string_view token, std::string_view type,
                                          std::shared_ptr<const schema::Snapshot> snapshot, store::Store& store,
                                          const auth::TokenService& tokens) {
  if (token.empty()) return std::nullopt;
  auto claims = tokens.Verify(token);
  if (!claims || claims->type != type) return std::nullopt;
  const schema::Collection* c = snapshot->Find(claims->collection_id);
  if (!c || c->id != claims->collection_id || c->type != schema::CollectionType::kAuth) return std::nullopt;
  auto rs = store.Query(fmt::format("SELECT * FROM `{}` WHERE `id` = ?", c->name), {claims->record_id});
  if (!rs || rs->rows.empty()) return std::nullopt;
  if (!auth::ConstantTimeEquals(auth::TokenKeyFingerprint(TokenKeyOf(*rs, rs->rows[0])), claims->key_fingerprint)) {
    return std::nullopt;
  }
  AuthInfo info;
  info.collection = c;
  info.record_id = claims->record_id;
  info.record = RecordToJson(*c, *rs, rs->rows[0], {.show_email = true});
  info.superuser = c->name == schema::kSuperusersCollection;
  info.snapshot = std::move(snapshot);
  return info;
}

void RequireSuperuser(const http::Request& req, schema::Catalog& catalog, store::Store& store,
                      const auth::TokenService& tokens) {
  auto who = Authenticate(req, catalog.Current(), store, tokens);
  if (!who) throw http::ApiError{401, "The request requires valid record authorization token.", {}, {}};
  if (!who->superuser) throw http::ApiError::Forbidden("The authorized record is not allowed to perform this action.");
}

void AddAuthRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog, auth::TokenService& tokens,
                   RateLimits& limits) {
  router.Add(
      http::Verb::kPost, "/api/collections/{collection}/auth-with-password",
      [&store, &catalog, &tokens, &limits](http::Request& req) -> net::awaitable<http::Response> {
        auto snap = catalog.Current();
        const schema::Collection* c = AuthCollection(*snap, req.Param("collection"));
        if (!c) throw http::ApiError::NotFound("Missing or invalid auth collection context.");
        if (!PasswordAuthEnabled(*c)) {
          throw http::ApiError::Forbidden("The collection is not configured to allow password authentication.");
        }
        const auto& body = req.json();
        boost::json::object errors;
        auto str = [&](const char* key) -> std::string {
          if (!body.is_object()) return {};
          auto it = body.as_object().find(key);
          return it != body.as_object().end() && it->value().is_string() ? std::string(it->value().as_string())
                                                                         : std::string();
        };
        const std::string identity = str("identity");
        const std::string password = str("password");
        const std::string identity_field = str("identityField");
        for (auto [key, value] : {std::pair{"identity", &identity}, std::pair{"password", &password}}) {
          if (value->empty())
            errors[key] = boost::json::object{{"code", "validation_required"}, {"message", "Cannot be blank."}};
        }
        if (!errors.empty()) {
          throw http::ApiError{400, "An error occurred while validating the submitted data.", std::move(errors), {}};
        }
        // Only the collection's identity fields (names from its schema, never from the request).
        std::string where;
        util::SqlParams params;
        for (const auto& f : IdentityFields(*c)) {
          if (!identity_field.empty() && identity_field != f) continue;
          if (!where.empty()) where += " OR ";
          where += fmt::format("`{}` = ?{}", f, f == "email" ? " COLLATE NOCASE" : "");
          params.emplace_back(identity);
        }
        if (where.empty()) throw http::ApiError::BadRequest("Failed to authenticate.");
        auto limit_headers = limits.CheckLogin(req, *c, "authWithPassword", identity);
        auto rs = store.Query(fmt::format("SELECT * FROM `{}` WHERE {} LIMIT 1", c->name, where), params);
        if (!rs) throw http::ApiError::Internal(rs.error().ToString());
        std::string hash = DummyHash();
        if (!rs->rows.empty()) {
          const int i = rs->ColumnIndex("password");
          if (auto* h = i >= 0 ? std::get_if<std::string>(&rs->rows[0][static_cast<std::size_t>(i)]) : nullptr)
            hash = *h;
        }
        const bool ok = co_await VerifyOffThread(hash, password);
        if (!ok || rs->rows.empty()) {
          auto e = http::ApiError::BadRequest("Failed to authenticate.");
          e.headers = std::move(limit_headers);
          throw e;
        }
        RequireAuthRule(store, *snap, *c, *rs, rs->rows[0]);
        auto res = AuthResponse(tokens, *c, *rs, rs->rows[0]);
        res.headers.insert(res.headers.end(), limit_headers.begin(), limit_headers.end());
        co_return res;
      },
      {.body_limit = 64 * 1024, .json_body = true, .tags = "authWithPassword,auth", .tags_in_handler = true});

  router.Add(http::Verb::kPost, "/api/collections/{collection}/auth-refresh",
             [&store, &catalog, &tokens](http::Request& req) -> net::awaitable<http::Response> {
               auto snap = catalog.Current();
               const schema::Collection* c = AuthCollection(*snap, req.Param("collection"));
               if (!c) throw http::ApiError::NotFound("Missing or invalid auth collection context.");
               auto who = Authenticate(req, snap, store, tokens);
               if (!who) {
                 throw http::ApiError{401, "The request requires valid record authorization token.", {}, {}};
               }
               if (who->collection->id != c->id) {
                 throw http::ApiError::Forbidden("The request requires auth record from a different collection.");
               }
               // Impersonation tokens end when they expire.
               if (auto claims = tokens.Verify(BearerToken(*req.Header("Authorization")));
                   !claims || !claims->refreshable) {
                 throw http::ApiError::Forbidden("The current auth token is not refreshable.");
               }
               auto rs = store.Query(fmt::format("SELECT * FROM `{}` WHERE `id` = ?", c->name), {who->record_id});
               if (!rs || rs->rows.empty()) throw http::ApiError::NotFound();
               RequireAuthRule(store, *snap, *c, *rs, rs->rows[0]);
               co_return AuthResponse(tokens, *c, *rs, rs->rows[0]);
             },
             {.tags = "authRefresh"});

  router.Add(http::Verb::kGet, "/api/.well-known/jwks.json",
             [&tokens](http::Request&) -> net::awaitable<http::Response> {
               co_return http::Response::Json(200, boost::json::serialize(tokens.Jwks()));
             });
}

}  // namespace strata::api
