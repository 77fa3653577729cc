// Rate limits by the rules of the settings (api/settings.hpp), applied before a route's handler:
// the first rule matching the route's labels and the requester's audience counts the request,
// keyed as the rule says, with the generic cell rate algorithm (ratelimit::RateLimiter). A
// request over its rule gets 429 with Retry-After and RateLimit-Limit/-Remaining/-Reset; one
// within it carries the RateLimit headers too. Superusers and the excluded addresses are never
// limited, as in PocketBase.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/settings.hpp"

namespace strata::http {
class Request;
struct Route;
}  // namespace strata::http
namespace strata::ratelimit {
class RateLimiter;
}
namespace strata::schema {
class Catalog;
struct Collection;
}  // namespace strata::schema
namespace strata::auth {
class TokenService;
}
namespace strata::store {
class Store;
}

namespace strata::api {

class RateLimits {
 public:
  // The arguments must outlive this object.
  RateLimits(SettingsService& settings, ratelimit::RateLimiter& limiter, schema::Catalog& catalog, store::Store& store,
             const auth::TokenService& tokens)
      : settings_(settings), limiter_(limiter), catalog_(catalog), store_(store), tokens_(tokens) {}

  // The server's before-handler hook (http::ServerOptions::before_handler).
  void Check(http::Request& req, const http::Route& route, std::vector<std::pair<std::string, std::string>>& headers);

  // One action of a request on `c` that does several (the requests of a batch): the
  // "name:action" and "*:action" rules.
  void CheckAction(const http::Request& req, const schema::Collection& c, std::string_view action);

  // A login attempt on `c` by `action` ("authWithPassword", "authWithOTP"): the rule for the
  // action (or "auth") counts attempts per identity tried and address; the same rule also caps
  // one identity from every address at 6 times its rate and one address over every identity at
  // 12 times. Every attempt counts, so parallel requests cannot run ahead of the failures.
  // Returns the RateLimit headers of the identity and address, for the answer (none without a rule).
  std::vector<std::pair<std::string, std::string>> CheckLogin(const http::Request& req, const schema::Collection& c,
                                                              std::string_view action, std::string_view identity);

 private:
  SettingsService& settings_;
  ratelimit::RateLimiter& limiter_;
  schema::Catalog& catalog_;
  store::Store& store_;
  const auth::TokenService& tokens_;
};

}  // namespace strata::api
