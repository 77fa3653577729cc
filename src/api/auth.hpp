// Request authentication (the Authorization header, with or without "Bearer ") and the auth
// routes of auth collections. Thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "api/record_change.hpp"
#include "mail/mailer.hpp"
#include "ratelimit/limiter.hpp"
#include "schema/catalog.hpp"

namespace strata::http {
class Request;
class Router;
}  // namespace strata::http
namespace strata::store {
class Store;
}
namespace strata::auth {
class TokenService;
}

namespace strata::api {

class RateLimits;

// Who sent a request.
struct AuthInfo {
  std::shared_ptr<const schema::Snapshot> snapshot;  // keeps `collection` alive
  const schema::Collection* collection = nullptr;
  std::string record_id;
  boost::json::object record;  // the record as its owner sees it
  bool superuser = false;
};

// The authenticated record behind the request's token, or nullopt for a guest: no token, or one
// that is malformed, forged, expired, not an auth token, or issued before its record's tokenKey
// changed.
std::optional<AuthInfo> Authenticate(const http::Request& req, std::shared_ptr<const schema::Snapshot> snapshot,
                                     store::Store& store, const auth::TokenService& tokens);

// The authenticated record behind a token of `type` ("auth", "file"), or nullopt, as Authenticate.
std::optional<AuthInfo> AuthenticateToken(std::string_view token, std::string_view type,
                                          std::shared_ptr<const schema::Snapshot> snapshot, store::Store& store,
                                          const auth::TokenService& tokens);

// 401 without a valid token, 403 unless it is a superuser's.
void RequireSuperuser(const http::Request& req, schema::Catalog& catalog, store::Store& store,
                      const auth::TokenService& tokens);

// Registers auth-with-password and auth-refresh for every auth collection, and
// GET /api/.well-known/jwks.json. Password logins are limited by `limits` (RateLimits::CheckLogin).
// The arguments must outlive the router.
void AddAuthRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog, auth::TokenService& tokens,
                   RateLimits& limits);

struct MailSettings {
  std::string from = "Strata <no-reply@localhost>";  // the sender of every message
  std::string app_name = "Strata";                   // in subjects and texts
  std::string app_url = "http://127.0.0.1:8090";     // links in messages start with it
};

// Registers auth-methods, request/confirm-verification, request/confirm-password-reset,
// request/confirm-email-change, request-otp, auth-with-otp and impersonate for every auth
// collection. Mail goes through `mailer`. The arguments must outlive the router.
// One-time-code logins are limited by `limits`; mail requests by fixed limits in `limiter`. The
// records they change (verified, email, password) are published to `publish`.
void AddAuthFlowRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog, auth::TokenService& tokens,
                       ratelimit::RateLimiter& limiter, RateLimits& limits, mail::Mailer& mailer,
                       const MailSettings& settings, const RecordChangeSink& publish);

}  // namespace strata::api
