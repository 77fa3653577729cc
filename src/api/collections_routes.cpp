#include "api/collections_routes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <random>

#include "api/async.hpp"
#include "api/auth.hpp"
#include "api/params.hpp"
#include "api/record_files.hpp"
#include "http/router.hpp"
#include "query/eval.hpp"
#include "query/parser.hpp"
#include "schema/catalog.hpp"

namespace strata::api {
namespace {

namespace net = boost::asio;

// What a collections list may filter and sort by: PocketBase's allow-list for this endpoint.
constexpr std::string_view kListFields[] = {"id", "created", "updated", "name", "system", "type"};

// The allow-list's own copy of `name` (static storage), or an empty view when it is not listed.
std::string_view ListField(std::string_view name) {
  const auto* it = std::find(std::begin(kListFields), std::end(kListFields), name);
  return it == std::end(kListFields) ? std::string_view{} : *it;
}

bool IsListField(std::string_view name) { return !ListField(name).empty(); }

util::Status UnknownField(std::string_view name) {
  return util::Status::InvalidArgument(fmt::format("unknown field {:?}", name));
}

// The list's filter identifiers as the values of one collection's JSON form, compared as the
// columns of PocketBase's _collections table would be.
class CollectionValueResolver final : public query::ValueResolver {
 public:
  explicit CollectionValueResolver(const boost::json::object& collection) : collection_(collection) {}

  util::Result<query::ResolvedValue> Resolve(std::string_view identifier) override {
    if (!IsListField(identifier)) return std::unexpected(UnknownField(identifier));
    query::ResolvedValue v;
    if (const auto* found = collection_.if_contains(identifier)) v.value = *found;
    v.source = query::ValueSource::kColumn;
    return v;
  }

 private:
  const boost::json::object& collection_;
};

// InvalidArgument naming the first identifier outside the allow-list. The evaluator finds these
// too, but only on the collections it is run on; the filter must fail the same way on any list.
util::Status CheckIdentifiers(const query::Operand& op) {
  if (op.kind == query::Operand::Kind::kIdentifier && !IsListField(op.text)) {
    return util::Status::InvalidArgument(
        fmt::format("invalid filter at position {}: {}", op.pos, UnknownField(op.text).message()));
  }
  for (const auto& arg : op.args) {
    if (auto s = CheckIdentifiers(arg); !s.ok()) return s;
  }
  return util::Status::Ok();
}

util::Status CheckIdentifiers(const query::Expr& expr) {
  if (expr.kind == query::Expr::Kind::kComparison) {
    if (auto s = CheckIdentifiers(expr.comparison.left); !s.ok()) return s;
    return CheckIdentifiers(expr.comparison.right);
  }
  for (const auto& child : expr.children) {
    if (auto s = CheckIdentifiers(child); !s.ok()) return s;
  }
  return util::Status::Ok();
}

// The ?filter= of a collections list; 400 naming the position of a bad filter, as for records.
std::optional<query::Expr> ListFilter(const std::string& filter) {
  if (filter.empty()) return std::nullopt;
  auto expr = query::Parse(filter);
  util::Status status = expr ? CheckIdentifiers(*expr) : expr.error();
  if (!status.ok()) {
    if (status.code() == util::Status::Code::kInvalidArgument) {
      throw http::ApiError::BadRequest("Invalid filter: " + status.message());
    }
    throw http::ApiError::Internal(status.ToString());
  }
  return std::move(*expr);
}

// A term of ?sort=: a field of the allow-list, or random order.
struct SortTerm {
  std::string_view field;  // an entry of kListFields; empty: @random
  bool desc = false;
};

// PocketBase's sort syntax, "-created,+name,type"; 400 for a field outside the allow-list.
std::vector<SortTerm> ListSort(std::string_view sort) {
  std::vector<SortTerm> terms;
  for (const auto& [item, desc] : SortItems(sort)) {
    if (item == "@random") {
      terms.push_back({{}, desc});
    } else if (const std::string_view field = ListField(item); !field.empty()) {
      terms.push_back({field, desc});
    } else {
      throw http::ApiError::BadRequest(fmt::format("Invalid sort field {:?}.", item));
    }
  }
  return terms;
}

// SQLite's order of values: NULL, then numbers (booleans as 0 and 1), then text by bytes.
int CompareValues(const boost::json::value* a, const boost::json::value* b) {
  auto rank = [](const boost::json::value* v) {
    if (!v || v->is_null()) return 0;
    return v->is_string() ? 2 : 1;
  };
  auto number = [](const boost::json::value& v) {
    if (v.is_bool()) return v.get_bool() ? 1.0 : 0.0;
    if (v.is_int64()) return static_cast<double>(v.get_int64());
    if (v.is_uint64()) return static_cast<double>(v.get_uint64());
    return v.is_double() ? v.get_double() : 0.0;
  };
  const int ra = rank(a);
  const int rb = rank(b);
  if (ra != rb || ra == 0) return ra - rb;
  if (ra == 2) {
    const int c = a->get_string().subview().compare(b->get_string().subview());
    return (c > 0) - (c < 0);
  }
  const double x = number(*a);
  const double y = number(*b);
  return (x > y) - (x < y);
}

// The boolean query parameter `name` (Go's strconv.ParseBool, as PocketBase reads skipTotal), or
// false when absent or empty; throws a 400 ApiError naming the parameter when it is not a boolean.
bool BoolParam(const http::Request& req, const char* name) {
  const std::string v = req.QueryParam(name).value_or("");
  if (v.empty()) return false;
  if (v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "true" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "false" || v == "False") return false;
  throw http::ApiError{
      400,
      "Invalid query parameters.",
      {{name, boost::json::object{{"code", "validation_invalid_value"}, {"message", "Must be a boolean."}}}},
      {}};
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
                         auth::TokenService& tokens, files::FileStore* files) {
  const http::RouteOptions json{.body_limit = 8 * 1024 * 1024, .json_body = true};

  // GET /api/collections: pages of the collections, filtered and sorted in memory (there are few),
  // in the catalog's order unless sorted.
  router.Add(http::Verb::kGet, "/api/collections", [&](http::Request& req) -> net::awaitable<http::Response> {
    RequireSuperuser(req, catalog, store, tokens);
    const auto filter = ListFilter(req.QueryParam("filter").value_or(""));
    const auto sort = ListSort(req.QueryParam("sort").value_or(""));
    int64_t page = IntParam(req, "page", 1);
    if (page <= 0) page = 1;
    int64_t per_page = IntParam(req, "perPage", kDefaultPerPage);
    if (per_page <= 0) per_page = kDefaultPerPage;
    per_page = std::min(per_page, kMaxPerPage);
    const bool skip_total = BoolParam(req, "skipTotal");

    auto snap = catalog.Current();
    std::vector<boost::json::object> matched;
    for (const auto& c : snap->collections()) {
      boost::json::object json = schema::CollectionToJson(c);
      if (filter) {
        CollectionValueResolver resolver(json);
        auto match = query::Evaluate(*filter, resolver);
        if (!match) {
          if (match.error().code() == util::Status::Code::kInvalidArgument) {
            throw http::ApiError::BadRequest("Invalid filter: " + match.error().message());
          }
          throw http::ApiError::Internal(match.error().ToString());
        }
        if (!*match) continue;
      }
      matched.push_back(std::move(json));
    }

    std::vector<std::size_t> order(matched.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    if (!sort.empty()) {
      // One random key per collection and @random term, as RANDOM() is per row.
      std::vector<std::vector<uint64_t>> random;
      thread_local std::mt19937_64 rng{std::random_device{}()};
      for (const auto& t : sort) {
        if (!t.field.empty()) continue;
        auto& keys = random.emplace_back(matched.size());
        for (auto& k : keys) k = rng();
      }
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        std::size_t r = 0;
        for (const auto& t : sort) {
          int c = 0;
          if (t.field.empty()) {
            const auto& keys = random[r++];
            c = (keys[a] > keys[b]) - (keys[a] < keys[b]);
          } else {
            c = CompareValues(matched[a].if_contains(t.field), matched[b].if_contains(t.field));
          }
          if (c != 0) return t.desc ? c > 0 : c < 0;
        }
        return false;
      });
    }

    const auto total = static_cast<int64_t>(matched.size());
    boost::json::array items;
    // Compared by pages first: (page - 1) * per_page can overflow for absurd pages.
    if (page - 1 <= total / per_page) {
      const int64_t begin = (page - 1) * per_page;
      const int64_t end = std::min(total, begin + per_page);
      for (int64_t i = begin; i < end; ++i) {
        items.emplace_back(std::move(matched[order[static_cast<std::size_t>(i)]]));
      }
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
             [&, files](http::Request& req) -> net::awaitable<http::Response> {
               RequireSuperuser(req, catalog, store, tokens);
               auto r = co_await Await<schema::ChangeResult>([&](std::function<void(schema::ChangeResult)> done) {
                 catalog.Delete(req.Param("collection"), std::move(done));
               });
               r.collection.reset();  // 204, no body
               if (files) RemoveFilesOfDeletedCollections(store, *catalog.Current(), *files);
               co_return ChangeResponse(r, "Failed to delete collection.");
             });

  router.Add(
      http::Verb::kPut, "/api/collections/import",
      [&, files](http::Request& req) -> net::awaitable<http::Response> {
        RequireSuperuser(req, catalog, store, tokens);
        const auto& body = BodyObject(req);
        auto it = body.find("collections");
        if (it == body.end() || !it->value().is_array()) {
          throw http::ApiError{
              400,
              "Failed to import the collections configuration.",
              {{"collections", boost::json::object{{"code", "validation_required"}, {"message", "Cannot be blank."}}}},
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
        if (files && delete_missing) RemoveFilesOfDeletedCollections(store, *catalog.Current(), *files);
        co_return ChangeResponse(r, "Failed to import the collections configuration.");
      },
      json);
}

}  // namespace strata::api
