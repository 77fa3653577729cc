#include "api/collections_routes.hpp"

#include <boost/json/serialize.hpp>
#include <charconv>

#include "api/async.hpp"
#include "api/auth.hpp"
#include "api/params.hpp"
#include "http/router.hpp"
#include "schema/catalog.hpp"

namespace strata::api {
namespace {

namespace net = boost::asio;


void RequireSuperuser(const http::Request& req, schema::Catalog& catalog, store::Store& store,
                      const auth::TokenService& tokens) {
  auto who = Authenticate(req, catalog.Current(), store, tokens);
  if (!who) throw http::ApiError{401, "The request requires valid record authorization token.", {}, {}};
  if (!who->superuser) throw http::ApiError::Forbidden("The authorized record is not allowed to perform this action.");
}

http::Response ChangeResponse(const schema::ChangeResult& r, const char* failure) {
  if (r.status.ok()) {
    if (!r.collection) return http::Response{204, "", "", {}};
    return http::Response::Json(200, boost::json::serialize(schema::CollectionToJson(*r.collection)));
  }
  switch (r.status.code()) {
    case util::Status::Code::kNotFound:
      return http::ApiError::NotFound().ToResponse();
    case util::Status::Code::kInvalidArgument:
      if (!r.errors.empty()) return http::ApiError{400, failure, r.errors, {}}.ToResponse();
      return http::ApiError::BadRequest(r.status.message()).ToResponse();
    default:
      throw http::ApiError::Internal(r.status.ToString());
  }
}

const boost::json::object& BodyObject(const http::Request& req) {
  if (!req.json().is_object()) throw http::ApiError::BadRequest("The request body must be a JSON object.");
  return req.json().as_object();
}

}  // namespace

void AddCollectionRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog,
                         auth::TokenService& tokens) {
  const http::RouteOptions json{.body_limit = 8 * 1024 * 1024, .json_body = true};

  router.Add(http::Verb::kGet, "/api/collections",
             [&](http::Request& req) -> net::awaitable<http::Response> {
               RequireSuperuser(req, catalog, store, tokens);
               const std::string filter = req.QueryParam("filter").value_or("");
               const std::string sort = req.QueryParam("sort").value_or("");
               if (!filter.empty() || !sort.empty()) {
                 throw http::ApiError::BadRequest("Filtering and sorting collections is not supported.");
               }
               const int64_t page = std::max<int64_t>(1, IntParam(req, "page", 1));
               const int64_t per_page = std::clamp<int64_t>(IntParam(req, "perPage", kDefaultPerPage), 1, kMaxPerPage);
               const std::string skip = req.QueryParam("skipTotal").value_or("");
               const bool skip_total = skip == "1" || skip == "true";
               auto snap = catalog.Current();
               const auto& all = snap->collections();
               boost::json::array items;
               const int64_t total = static_cast<int64_t>(all.size());
               for (int64_t i = (page - 1) * per_page; i < total && i < page * per_page; ++i) {
                 items.emplace_back(schema::CollectionToJson(all[static_cast<std::size_t>(i)]));
               }
               boost::json::object out{{"page", page},
                                       {"perPage", per_page},
                                       {"totalItems", skip_total ? -1 : total},
                                       {"totalPages", skip_total ? -1 : (total + per_page - 1) / per_page},
                                       {"items", std::move(items)}};
               co_return http::Response::Json(200, boost::json::serialize(out));
             });

  router.Add(http::Verb::kGet, "/api/collections/{collection}",
             [&](http::Request& req) -> net::awaitable<http::Response> {
               RequireSuperuser(req, catalog, store, tokens);
               auto snap = catalog.Current();
               const schema::Collection* c = snap->Find(req.Param("collection"));
               if (!c) throw http::ApiError::NotFound();
               co_return http::Response::Json(200, boost::json::serialize(schema::CollectionToJson(*c)));
             });

  router.Add(
      http::Verb::kPost, "/api/collections",
      [&](http::Request& req) -> net::awaitable<http::Response> {
        RequireSuperuser(req, catalog, store, tokens);
        auto body = BodyObject(req);
        auto r = co_await Await<schema::ChangeResult>(
            [&](std::function<void(schema::ChangeResult)> done) { catalog.Create(std::move(body), std::move(done)); });
        co_return ChangeResponse(r, "Failed to create collection.");
      },
      json);

  router.Add(
      http::Verb::kPatch, "/api/collections/{collection}",
      [&](http::Request& req) -> net::awaitable<http::Response> {
        RequireSuperuser(req, catalog, store, tokens);
        auto body = BodyObject(req);
        auto r = co_await Await<schema::ChangeResult>([&](std::function<void(schema::ChangeResult)> done) {
          catalog.Update(req.Param("collection"), std::move(body), std::move(done));
        });
        co_return ChangeResponse(r, "Failed to update collection.");
      },
      json);

  router.Add(http::Verb::kDelete, "/api/collections/{collection}",
             [&](http::Request& req) -> net::awaitable<http::Response> {
               RequireSuperuser(req, catalog, store, tokens);
               auto r = co_await Await<schema::ChangeResult>([&](std::function<void(schema::ChangeResult)> done) {
                 catalog.Delete(req.Param("collection"), std::move(done));
               });
               r.collection.reset();  // 204, no body
               co_return ChangeResponse(r, "Failed to delete collection.");
             });

  router.Add(
      http::Verb::kPut, "/api/collections/import",
      [&](http::Request& req) -> net::awaitable<http::Response> {
        RequireSuperuser(req, catalog, store, tokens);
        const auto& body = BodyObject(req);
        auto it = body.find("collections");
        if (it == body.end() || !it->value().is_array()) {
          throw http::ApiError{400,
                               "Failed to import the collections configuration.",
                               {{"collections", boost::json::object{{"code", "validation_required"},
                                                                    {"message", "Cannot be blank."}}}},
                               {}};
        }
        bool delete_missing = false;
        if (auto d = body.find("deleteMissing"); d != body.end() && d->value().is_bool()) {
          delete_missing = d->value().as_bool();
        }
        auto items = it->value().as_array();
        auto r = co_await Await<schema::ChangeResult>([&](std::function<void(schema::ChangeResult)> done) {
          catalog.Import(std::move(items), delete_missing, std::move(done));
        });
        r.collection.reset();
        co_return ChangeResponse(r, "Failed to import the collections configuration.");
      },
      json);
}

}  // namespace strata::api
