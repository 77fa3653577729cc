#include "api/settings_routes.hpp"

#include <boost/asio/use_awaitable.hpp>
#include <boost/json/serialize.hpp>

#include "api/async.hpp"
#include "api/auth.hpp"
#include "api/settings.hpp"
#include "http/router.hpp"

namespace strata::api {

namespace net = boost::asio;

void AddSettingsRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog,
                       const auth::TokenService& tokens, SettingsService& settings) {
  router.Add(http::Verb::kGet, "/api/settings", [&](http::Request& req) -> net::awaitable<http::Response> {
    RequireSuperuser(req, catalog, store, tokens);
    co_return http::Response::Json(200, boost::json::serialize(SettingsToJson(*settings.Current())));
  });

  router.Add(
      http::Verb::kPatch, "/api/settings",
      [&](http::Request& req) -> net::awaitable<http::Response> {
        RequireSuperuser(req, catalog, store, tokens);
        Settings next = *settings.Current();
        boost::json::object errors;
        if (!PatchSettings(req.json(), next, errors)) {
          throw http::ApiError{400, "An error occurred while validating the submitted data.", std::move(errors), {}};
        }
        auto st = co_await Await<util::Status>(
            [&](std::function<void(util::Status)> done) { settings.Save(next, std::move(done)); });
        if (!st.ok()) throw http::ApiError::Internal(st.ToString());
        co_return http::Response::Json(200, boost::json::serialize(SettingsToJson(next)));
      },
      {.body_limit = 256 * 1024, .json_body = true});
}

}  // namespace strata::api
