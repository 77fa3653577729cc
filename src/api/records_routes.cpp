#include "api/records_routes.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <charconv>
#include <set>

#include "api/async.hpp"
#include "api/auth.hpp"
#include "api/record_json.hpp"
#include "auth/password.hpp"
#include "auth/token.hpp"
#include "http/router.hpp"
#include "schema/catalog.hpp"
#include "schema/values.hpp"
#include "store/store.hpp"

namespace strata::api {
namespace {

namespace net = boost::asio;
using schema::Collection;
using schema::CollectionType;
using schema::Field;
using schema::FieldType;

constexpr int64_t kDefaultPerPage = 30;
constexpr int64_t kMaxPerPage = 1000;
constexpr int kMaxCascadeDepth = 16;

net::thread_pool& HashingPool() {
  static net::thread_pool pool(2);
  return pool;
}

std::string Quote(std::string_view name) { return fmt::format("`{}`", name); }

http::ApiError ValidationError(std::string message, boost::json::object data) {
  return http::ApiError{400, std::move(message), std::move(data), {}};
}

boost::json::object ErrorEntry(const schema::FieldError& e) { return {{"code", e.code}, {"message", e.message}}; }

// Everything a request needs to know about its collection and requester.
struct Context {
  std::shared_ptr<const schema::Snapshot> snapshot;
  const Collection* collection = nullptr;
  std::optional<AuthInfo> auth;
  bool superuser() const { return auth && auth->superuser; }
};

Context Resolve(http::Request& req, schema::Catalog& catalog, store::Store& store, const auth::TokenService& tokens) {
  Context ctx;
  ctx.snapshot = catalog.Current();
  ctx.collection = ctx.snapshot->Find(req.Param("collection"));
  if (!ctx.collection) throw http::ApiError::NotFound("Missing collection context.");
  ctx.auth = Authenticate(req, ctx.snapshot, store, tokens);
  return ctx;
}

// The SQL condition a rule adds for this requester, or nullopt when the rule denies everything.
// null: superusers only (the caller answers 403); "": everyone. A filter rule is enforced through
// the filter language; until a collection's filter can be evaluated here, access is refused
// (fail closed) for everyone but superusers.
std::optional<std::string> RuleCondition(const Context& ctx, const std::optional<std::string>& rule) {
  if (ctx.superuser()) return std::string("1");
  if (!rule) return std::nullopt;
  if (rule->empty()) return std::string("1");
  return std::string("0");
}

void RequireRule(const Context& ctx, const std::optional<std::string>& rule) {
  if (!rule && !ctx.superuser()) throw http::ApiError::Forbidden("Only superusers can perform this action.");
}

int64_t IntParam(const http::Request& req, const char* name, int64_t fallback) {
  auto v = req.QueryParam(name);
  if (!v || v->empty()) return fallback;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || ptr != v->data() + v->size()) {
    throw ValidationError("Invalid query parameters.",
                          {{name, boost::json::object{{"code", "validation_invalid_value"}, {"message", "Must be an integer."}}}});
  }
  return out;
}

// ORDER BY for PocketBase's sort syntax: "-created,title", "@random", "@rowid". Only the
// collection's own fields are accepted.
std::string OrderBy(const Collection& c, std::string_view sort) {
  std::string out;
  while (!sort.empty()) {
    const auto comma = sort.find(',');
    std::string_view item = sort.substr(0, comma);
    sort = comma == std::string_view::npos ? std::string_view{} : sort.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    bool desc = false;
    if (item.front() == '-' || item.front() == '+') {
      desc = item.front() == '-';
      item.remove_prefix(1);
    }
    std::string term;
    if (item == "@random") {
      term = "RANDOM()";
    } else if (item == "@rowid") {
      term = "rowid";
    } else if (const Field* f = c.FindField(item)) {
      term = Quote(f->name);
    } else {
      throw http::ApiError::BadRequest(fmt::format("Invalid sort field {:?}.", item));
    }
    if (!out.empty()) out += ", ";
    out += term;
    if (desc) out += " DESC";
  }
  return out;
}

// Keyset pagination ("?cursor="): the sort terms, each a field and a direction, ending with the
// id so that the order is total; a cursor holds the last row's values of those terms.
struct SortTerm {
  const Field* field;
  bool desc;
};

std::vector<SortTerm> CursorTerms(const Collection& c, std::string_view sort) {
  std::vector<SortTerm> terms;
  while (!sort.empty()) {
    const auto comma = sort.find(',');
    std::string_view item = sort.substr(0, comma);
    sort = comma == std::string_view::npos ? std::string_view{} : sort.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.empty()) continue;
    bool desc = false;
    if (item.front() == '-' || item.front() == '+') {
      desc = item.front() == '-';
      item.remove_prefix(1);
    }
    const Field* f = c.FindField(item);
    if (!f || f->type == FieldType::kJson || f->type == FieldType::kGeoPoint || f->IsMultiple()) {
      throw http::ApiError::BadRequest(fmt::format("Invalid cursor sort field {:?}: use plain, indexed fields.", item));
    }
    terms.push_back({f, desc});
    if (f->IsPrimaryKey()) return terms;  // the id already makes the order total
  }
  terms.push_back({c.FindField("id"), false});
  return terms;
}

std::string EncodeCursor(const std::vector<SortTerm>& terms, const store::ResultSet& rs,
                         const std::vector<util::SqlValue>& row) {
  boost::json::array values;
  for (const auto& t : terms) {
    const auto& v = row[static_cast<std::size_t>(rs.ColumnIndex(t.field->name))];
    if (auto* i = std::get_if<int64_t>(&v)) {
      values.emplace_back(*i);
    } else if (auto* d = std::get_if<double>(&v)) {
      values.emplace_back(*d);
    } else if (auto* s = std::get_if<std::string>(&v)) {
      values.emplace_back(*s);
    } else {
      values.emplace_back(nullptr);
    }
  }
  return auth::Base64UrlEncode(boost::json::serialize(values));
}

// The condition selecting rows after the cursor: (a > va) OR (a = va AND b > vb) OR …, with < for
// descending terms. Returns false in `ok` for a cursor that does not fit the terms.
std::string AfterCursor(const std::vector<SortTerm>& terms, std::string_view cursor, util::SqlParams& params) {
  auto invalid = [] { return http::ApiError::BadRequest("Invalid cursor."); };
  auto raw = auth::Base64UrlDecode(cursor);
  if (!raw) throw invalid();
  boost::system::error_code ec;
  auto parsed = boost::json::parse(*raw, ec);
  if (ec || !parsed.is_array() || parsed.as_array().size() != terms.size()) throw invalid();
  std::vector<util::SqlValue> values;
  for (const auto& v : parsed.as_array()) {
    if (v.is_int64()) {
      values.emplace_back(v.as_int64());
    } else if (v.is_double()) {
      values.emplace_back(v.as_double());
    } else if (v.is_string()) {
      values.emplace_back(std::string(v.as_string()));
    } else {
      throw invalid();
    }
  }
  std::string out;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    out += out.empty() ? "(" : " OR (";
    for (std::size_t j = 0; j < i; ++j) {
      out += Quote(terms[j].field->name) + " = ? AND ";
      params.push_back(values[j]);
    }
    out += Quote(terms[i].field->name) + (terms[i].desc ? " < ?" : " > ?") + ")";
    params.push_back(values[i]);
  }
  return out;
}

// The requested output fields ("fields=id,title"); empty means all.
std::set<std::string> OutputFields(const http::Request& req) {
  std::set<std::string> out;
  const auto v = req.QueryParam("fields").value_or("");
  std::string_view rest = v;
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "*") return {};
    if (!item.empty()) out.emplace(item.substr(0, item.find(':')));
  }
  return out;
}

boost::json::object Shape(boost::json::object record, const std::set<std::string>& fields) {
  if (fields.empty()) return record;
  boost::json::object out;
  for (auto& [k, v] : record) {
    if (fields.contains(std::string(k))) out[k] = std::move(v);
  }
  return out;
}

RecordJsonOptions JsonOptions(const Context& ctx, const store::ResultSet& rs, const std::vector<util::SqlValue>& row) {
  RecordJsonOptions o;
  o.show_email = ctx.superuser();
  if (!o.show_email && ctx.auth && ctx.auth->collection && ctx.auth->collection->id == ctx.collection->id) {
    const int i = rs.ColumnIndex("id");
    if (i >= 0) {
      auto* id = std::get_if<std::string>(&row[static_cast<std::size_t>(i)]);
      o.show_email = id && *id == ctx.auth->record_id;
    }
  }
  return o;
}

// One record by id, or nullptr, read on the calling thread's connection.
std::optional<store::ResultSet> FetchOne(store::Store& store, const Collection& c, std::string_view id,
                                         const std::string& condition) {
  auto rs = store.Query(fmt::format("SELECT * FROM {} WHERE `id` = ? AND ({}) LIMIT 1", Quote(c.name), condition),
                        {std::string(id)});
  if (!rs) throw http::ApiError::Internal(rs.error().ToString());
  if (rs->rows.empty()) return std::nullopt;
  return std::move(*rs);
}

// ---- writes ----

// A record being built from a request body: canonical values per field, errors per field.
struct Draft {
  boost::json::object values;  // field name → canonical JSON value
  boost::json::object errors;
  std::string password;        // plain text of a new password, hashed before saving
};

std::string NewPassword(const boost::json::object& body) {
  auto it = body.find("password");
  return it != body.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
}

// Applies the body to `draft` (which holds the current values on update, zero values on create).
void ApplyBody(const Collection& c, const boost::json::object& body, bool creating, bool superuser, Draft& draft) {
  for (const Field& f : c.fields) {
    if (f.type == FieldType::kAutodate) continue;
    const bool is_auth = c.type == CollectionType::kAuth;
    if (is_auth && f.name == "tokenKey") continue;
    if (f.type == FieldType::kPassword) {
      auto pw = NewPassword(body);
      if (body.contains(f.name)) {
        auto confirm = body.find("passwordConfirm");
        if (is_auth && (confirm == body.end() || !confirm->value().is_string() || confirm->value().as_string() != pw)) {
          draft.errors["passwordConfirm"] =
              boost::json::object{{"code", "validation_values_mismatch"}, {"message", "Values don't match."}};
        }
        draft.values[f.name] = pw;
        draft.password = pw;
        if (auto e = schema::ValidateValue(f, boost::json::value(pw))) draft.errors[f.name] = ErrorEntry(*e);
      } else if (creating && f.required) {
        draft.errors[f.name] = boost::json::object{{"code", "validation_required"}, {"message", "Cannot be blank."}};
      }
      continue;
    }
    if (is_auth && f.name == "verified" && !superuser && body.contains(f.name)) continue;  // only managers verify
    if (f.IsPrimaryKey() && !creating) continue;  // the id never changes

    boost::json::value value = draft.values.contains(f.name) ? draft.values[f.name] : schema::ZeroValue(f);
    bool touched = false;
    if (auto it = body.find(f.name); it != body.end()) {
      value = schema::CastValue(f, it->value());
      touched = true;
    }
    // Modifiers: "field+" appends/adds, "+field" prepends, "field-" removes/subtracts.
    for (const char* mode : {"+prefix", "+", "-"}) {
      const std::string key = std::string(mode) == "+prefix" ? "+" + f.name : f.name + mode;
      auto it = body.find(key);
      if (it == body.end()) continue;
      touched = true;
      if (f.type == FieldType::kNumber) {
        auto delta = schema::CastValue(f, it->value());
        const double d = delta.to_number<double>();
        double cur = value.to_number<double>();
        cur = mode[0] == '-' ? cur - d : cur + d;
        value = cur == std::floor(cur) && std::fabs(cur) < 9e15 ? boost::json::value(static_cast<int64_t>(cur))
                                                                 : boost::json::value(cur);
      } else if (f.IsMultiple()) {
        auto items = schema::CastValue(f, it->value()).as_array();
        auto current = value.is_array() ? value.as_array() : boost::json::array();
        if (mode[0] == '-') {
          boost::json::array kept;
          for (auto& v : current) {
            if (std::find(items.begin(), items.end(), v) == items.end()) kept.push_back(v);
          }
          current = std::move(kept);
        } else {
          for (auto& v : items) {
            if (std::find(current.begin(), current.end(), v) != current.end()) continue;
            if (std::string(mode) == "+prefix") {
              current.insert(current.begin(), v);
            } else {
              current.push_back(v);
            }
          }
        }
        value = std::move(current);
      } else if (mode[0] == '-' && value.is_string()) {
        auto items = schema::CastValue(f, it->value());
        if (items == value) value = "";
      }
    }
    if (f.IsPrimaryKey()) {
      if (!touched || value.as_string().empty()) {
        value = schema::NewId();
      } else if (auto e = schema::ValidateValue(f, value)) {
        draft.errors[f.name] = ErrorEntry(*e);
      }
      draft.values[f.name] = value;
      continue;
    }
    if (f.type == FieldType::kText && value.as_string().empty() && creating && !f.StringOption("autogeneratePattern").empty()) {
      value = auth::RandomSecret(static_cast<std::size_t>(std::max<int64_t>(15, f.IntOption("min"))));
    }
    if (touched || creating) {
      if (auto e = schema::ValidateValue(f, value)) draft.errors[f.name] = ErrorEntry(*e);
    }
    draft.values[f.name] = std::move(value);
  }
}

// Checks that related ids exist (on the writer's transaction, so the answer cannot change before
// the commit). Adds field errors to `errors`.
util::Status CheckRelations(store::Tx& tx, const schema::Snapshot& snap, const Collection& c,
                            const boost::json::object& values, boost::json::object& errors) {
  for (const Field& f : c.fields) {
    if (f.type != FieldType::kRelation) continue;
    auto it = values.find(f.name);
    if (it == values.end()) continue;
    std::vector<std::string> ids;
    if (it->value().is_array()) {
      for (const auto& v : it->value().as_array()) ids.emplace_back(v.as_string());
    } else if (!it->value().as_string().empty()) {
      ids.emplace_back(it->value().as_string());
    }
    if (ids.empty()) continue;
    const Collection* target = snap.Find(f.StringOption("collectionId"));
    if (!target) {
      errors[f.name] = boost::json::object{{"code", "validation_missing_rel_collection"},
                                           {"message", "Relation connection is missing or cannot be accessed"}};
      continue;
    }
    std::string placeholders;
    util::SqlParams params;
    for (const auto& id : ids) {
      placeholders += placeholders.empty() ? "?" : ", ?";
      params.emplace_back(id);
    }
    auto rs = tx.Query(fmt::format("SELECT count(*) FROM {} WHERE `id` IN ({})", Quote(target->name), placeholders), params);
    if (!rs) return rs.error();
    if (std::get<int64_t>(rs->rows[0][0]) != static_cast<int64_t>(ids.size())) {
      errors[f.name] = boost::json::object{{"code", "validation_missing_rel_records"},
                                           {"message", "Failed to find all relation records with the provided ids"}};
    }
  }
  return util::Status::Ok();
}

// Maps "UNIQUE constraint failed: posts.title" to a field error.
bool UniqueError(const Collection& c, const util::Status& st, boost::json::object& errors) {
  if (st.code() != util::Status::Code::kConstraint) return false;
  const auto& msg = st.message();
  const auto pos = msg.find("UNIQUE constraint failed: ");
  if (pos == std::string::npos) return false;
  std::string_view cols = std::string_view(msg).substr(pos + 26);
  bool any = false;
  while (!cols.empty()) {
    const auto comma = cols.find(", ");
    std::string_view col = cols.substr(0, comma);
    cols = comma == std::string_view::npos ? std::string_view{} : cols.substr(comma + 2);
    col = col.substr(col.find('.') + 1);
    if (c.FindField(col)) {
      errors[col] = boost::json::object{{"code", col == "id" ? "validation_pk_invalid" : "validation_not_unique"},
                                        {"message", col == "id" ? "The record primary key is invalid or already exists."
                                                                : "Value must be unique."}};
      any = true;
    }
  }
  return any;
}

struct WriteOutcome {
  util::Status status;
  boost::json::object errors;
};

// Deletes `id` from `c` and follows relations pointing at it: cascade-deleting referencing
// records, or removing the id from their relation fields (refused when that empties a required one).
util::Status DeleteWithReferences(store::Tx& tx, const schema::Snapshot& snap, const Collection& c, const std::string& id,
                                  int depth) {
  if (depth > kMaxCascadeDepth) return util::Status::InvalidArgument("Too deep a chain of cascading deletes.");
  for (const Collection& other : snap.collections()) {
    if (other.type == CollectionType::kView) continue;
    for (const Field& f : other.fields) {
      if (f.type != FieldType::kRelation || f.StringOption("collectionId") != c.id) continue;
      const std::string col = Quote(f.name), table = Quote(other.name);
      const std::string match = f.IsMultiple()
                                    ? fmt::format("EXISTS (SELECT 1 FROM json_each({}) WHERE value = ?)", col)
                                    : fmt::format("{} = ?", col);
      auto refs = tx.Query(fmt::format("SELECT `id`, {} FROM {} WHERE {}", col, table, match), {id});
      if (!refs) return refs.error();
      for (const auto& row : refs->rows) {
        const auto ref_id = std::get<std::string>(row[0]);
        if (other.id == c.id && ref_id == id) continue;
        bool empties = !f.IsMultiple();
        if (f.IsMultiple()) {
          auto r = tx.Query(fmt::format("SELECT count(*) FROM json_each(?) WHERE value != ?"), {row[1], id});
          if (!r) return r.error();
          empties = std::get<int64_t>(r->rows[0][0]) == 0;
        }
        if (f.BoolOption("cascadeDelete")) {
          if (auto st = DeleteWithReferences(tx, snap, other, ref_id, depth + 1); !st.ok()) return st;
          continue;
        }
        if (f.required && empties) {
          return util::Status::InvalidArgument(
              "The record cannot be deleted because it is part of a required reference in another record.");
        }
        auto upd = f.IsMultiple()
                       ? tx.Exec(fmt::format("UPDATE {} SET {} = (SELECT json_group_array(value) FROM json_each({}) "
                                             "WHERE value != ?) WHERE `id` = ?",
                                             table, col, col),
                                 {id, ref_id})
                       : tx.Exec(fmt::format("UPDATE {} SET {} = '' WHERE `id` = ?", table, col), {ref_id});
        if (!upd) return upd.error();
      }
    }
  }
  auto del = tx.Exec(fmt::format("DELETE FROM {} WHERE `id` = ?", Quote(c.name)), {id});
  return del ? util::Status::Ok() : del.error();
}

net::awaitable<std::string> HashOffThread(std::string password) {
  auto hash = co_await net::co_spawn(
      HashingPool(), [&]() -> net::awaitable<util::Result<std::string>> { co_return auth::HashPassword(password); },
      net::use_awaitable);
  if (!hash) throw http::ApiError::Internal(hash.error().ToString());
  co_return *hash;
}

}  // namespace

void AddRecordRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog, auth::TokenService& tokens) {
  const http::RouteOptions json{.body_limit = http::kDefaultBodyLimit, .json_body = true};

  router.Add(http::Verb::kGet, "/api/collections/{collection}/records",
             [&](http::Request& req) -> net::awaitable<http::Response> {
               Context ctx = Resolve(req, catalog, store, tokens);
               RequireRule(ctx, ctx.collection->list_rule);
               const std::string filter = req.QueryParam("filter").value_or("");
               if (!filter.empty()) {
                 throw http::ApiError::BadRequest("Filtering records is not available yet.");
               }
               const auto condition = RuleCondition(ctx, ctx.collection->list_rule).value_or("0");
               const int64_t per_page = std::clamp<int64_t>(IntParam(req, "perPage", kDefaultPerPage), 1, kMaxPerPage);
               const auto& c = *ctx.collection;
               const auto fields = OutputFields(req);
               const std::string sort = req.QueryParam("sort").value_or("");
               const auto cursor = req.QueryParam("cursor");
               if (cursor) {
                 // Keyset pagination: the cost of a page does not depend on its depth.
                 const auto terms = CursorTerms(c, sort);
                 util::SqlParams params;
                 std::string where = "(" + condition + ")";
                 if (!cursor->empty()) where += " AND (" + AfterCursor(terms, *cursor, params) + ")";
                 std::string order;
                 for (const auto& t : terms) {
                   order += order.empty() ? "" : ", ";
                   order += Quote(t.field->name) + (t.desc ? " DESC" : "");
                 }
                 params.emplace_back(per_page + 1);
                 auto rs = store.Query(
                     fmt::format("SELECT * FROM {} WHERE {} ORDER BY {} LIMIT ?", Quote(c.name), where, order), params);
                 if (!rs) throw http::ApiError::Internal(rs.error().ToString());
                 const bool more = static_cast<int64_t>(rs->rows.size()) > per_page;
                 if (more) rs->rows.pop_back();
                 boost::json::array items;
                 for (const auto& row : rs->rows) {
                   items.emplace_back(Shape(RecordToJson(c, *rs, row, JsonOptions(ctx, *rs, row)), fields));
                 }
                 boost::json::value next = nullptr;
                 if (more) next = EncodeCursor(terms, *rs, rs->rows.back());
                 boost::json::object out{{"items", std::move(items)}, {"page", 1},        {"perPage", per_page},
                                         {"totalItems", -1},          {"totalPages", -1}, {"nextCursor", next}};
                 co_return http::Response::Json(200, boost::json::serialize(out));
               }
               const int64_t page = std::max<int64_t>(1, IntParam(req, "page", 1));
               const auto skip = req.QueryParam("skipTotal").value_or("");
               const bool skip_total = skip == "1" || skip == "true";
               std::string order = OrderBy(c, sort);
               if (order.empty()) order = "rowid";
               auto rs = store.Query(fmt::format("SELECT * FROM {} WHERE ({}) ORDER BY {} LIMIT ? OFFSET ?", Quote(c.name),
                                                 condition, order),
                                     {per_page, (page - 1) * per_page});
               if (!rs) throw http::ApiError::Internal(rs.error().ToString());
               int64_t total = -1;
               if (!skip_total) {
                 auto count = store.Query(fmt::format("SELECT count(*) FROM {} WHERE ({})", Quote(c.name), condition));
                 if (!count) throw http::ApiError::Internal(count.error().ToString());
                 total = std::get<int64_t>(count->rows[0][0]);
               }
               boost::json::array items;
               for (const auto& row : rs->rows) items.emplace_back(Shape(RecordToJson(c, *rs, row, JsonOptions(ctx, *rs, row)), fields));
               boost::json::object out{{"items", std::move(items)},
                                       {"page", page},
                                       {"perPage", per_page},
                                       {"totalItems", total},
                                       {"totalPages", skip_total ? -1 : (total + per_page - 1) / per_page}};
               co_return http::Response::Json(200, boost::json::serialize(out));
             });

  router.Add(http::Verb::kGet, "/api/collections/{collection}/records/{id}",
             [&](http::Request& req) -> net::awaitable<http::Response> {
               Context ctx = Resolve(req, catalog, store, tokens);
               RequireRule(ctx, ctx.collection->view_rule);
               const auto condition = RuleCondition(ctx, ctx.collection->view_rule).value_or("0");
               auto rs = FetchOne(store, *ctx.collection, req.Param("id"), condition);
               if (!rs) throw http::ApiError::NotFound();
               const auto& row = rs->rows[0];
               co_return http::Response::Json(
                   200, boost::json::serialize(Shape(RecordToJson(*ctx.collection, *rs, row, JsonOptions(ctx, *rs, row)),
                                                     OutputFields(req))));
             });

  router.Add(
      http::Verb::kPost, "/api/collections/{collection}/records",
      [&](http::Request& req) -> net::awaitable<http::Response> {
        Context ctx = Resolve(req, catalog, store, tokens);
        const Collection& c = *ctx.collection;
        if (c.type == CollectionType::kView) throw http::ApiError::BadRequest("Unsupported collection type.");
        RequireRule(ctx, c.create_rule);
        if (RuleCondition(ctx, c.create_rule) != "1") throw http::ApiError::BadRequest("Failed to create record.");
        if (!req.json().is_object()) throw http::ApiError::BadRequest("Failed to read the submitted data.");
        Draft draft;
        ApplyBody(c, req.json().as_object(), /*creating=*/true, ctx.superuser(), draft);
        if (!draft.errors.empty()) throw ValidationError("Failed to create record.", std::move(draft.errors));
        const std::string now = schema::NowDateTime();
        for (const Field& f : c.fields) {
          if (f.type == FieldType::kAutodate && f.BoolOption("onCreate")) draft.values[f.name] = now;
        }
        if (c.type == CollectionType::kAuth) draft.values["tokenKey"] = auth::RandomSecret(50);
        if (!draft.password.empty()) draft.values["password"] = co_await HashOffThread(draft.password);

        std::string cols, marks;
        util::SqlParams params;
        for (const Field& f : c.fields) {
          auto it = draft.values.find(f.name);
          if (it == draft.values.end()) continue;
          cols += cols.empty() ? Quote(f.name) : ", " + Quote(f.name);
          marks += marks.empty() ? "?" : ", ?";
          params.push_back(schema::ToSqlValue(f, it->value()));
        }
        const std::string sql = fmt::format("INSERT INTO {} ({}) VALUES ({})", Quote(c.name), cols, marks);
        auto outcome = std::make_shared<WriteOutcome>();
        auto snap = ctx.snapshot;
        auto values = draft.values;
        outcome->status = co_await Await<util::Status>([&](std::function<void(util::Status)> done) {
          store.Write(
              [&c, snap, sql, params, values, outcome](store::Tx& tx) -> util::Status {
                if (auto st = CheckRelations(tx, *snap, c, values, outcome->errors); !st.ok()) return st;
                if (!outcome->errors.empty()) return util::Status::InvalidArgument("invalid relations");
                auto r = tx.Exec(sql, params);
                if (!r) {
                  UniqueError(c, r.error(), outcome->errors);
                  return r.error();
                }
                return util::Status::Ok();
              },
              std::move(done));
        });
        if (!outcome->status.ok()) {
          if (!outcome->errors.empty()) throw ValidationError("Failed to create record.", std::move(outcome->errors));
          throw http::ApiError::Internal(outcome->status.ToString());
        }
        auto rs = FetchOne(store, c, std::string(draft.values["id"].as_string()), "1");
        if (!rs) throw http::ApiError::Internal("created record not found");
        const auto& row = rs->rows[0];
        co_return http::Response::Json(
            200, boost::json::serialize(Shape(RecordToJson(c, *rs, row, JsonOptions(ctx, *rs, row)), OutputFields(req))));
      },
      json);

  router.Add(
      http::Verb::kPatch, "/api/collections/{collection}/records/{id}",
      [&](http::Request& req) -> net::awaitable<http::Response> {
        Context ctx = Resolve(req, catalog, store, tokens);
        const Collection& c = *ctx.collection;
        if (c.type == CollectionType::kView) throw http::ApiError::BadRequest("Unsupported collection type.");
        RequireRule(ctx, c.update_rule);
        const auto condition = RuleCondition(ctx, c.update_rule).value_or("0");
        const std::string id = req.Param("id");
        auto current = FetchOne(store, c, id, condition);
        if (!current) throw http::ApiError::NotFound();
        if (!req.json().is_object()) throw http::ApiError::BadRequest("Failed to read the submitted data.");
        Draft draft;
        {
          const auto& row = current->rows[0];
          for (const Field& f : c.fields) {
            const int i = current->ColumnIndex(f.name);
            if (i >= 0) draft.values[f.name] = FieldValueToJson(f, row[static_cast<std::size_t>(i)]);
          }
        }
        const auto before = draft.values;
        ApplyBody(c, req.json().as_object(), /*creating=*/false, ctx.superuser(), draft);
        if (!draft.errors.empty()) throw ValidationError("Failed to update record.", std::move(draft.errors));
        for (const Field& f : c.fields) {
          if (f.type == FieldType::kAutodate && f.BoolOption("onUpdate")) draft.values[f.name] = schema::NowDateTime();
        }
        if (!draft.password.empty()) {
          draft.values["password"] = co_await HashOffThread(draft.password);
          draft.values["tokenKey"] = auth::RandomSecret(50);  // a new password ends every session
        }
        std::string sets;
        util::SqlParams params;
        boost::json::object changed;
        for (const Field& f : c.fields) {
          if (f.IsPrimaryKey()) continue;
          auto it = draft.values.find(f.name);
          if (it == draft.values.end()) continue;
          auto old = before.find(f.name);
          const bool secret = f.type == FieldType::kPassword || f.name == "tokenKey";
          if (!secret && old != before.end() && old->value() == it->value()) continue;
          if (secret && !(f.type == FieldType::kPassword ? !draft.password.empty() : !draft.password.empty())) continue;
          sets += sets.empty() ? "" : ", ";
          sets += Quote(f.name) + " = ?";
          params.push_back(schema::ToSqlValue(f, it->value()));
          changed[f.name] = it->value();
        }
        if (!sets.empty()) {
          params.emplace_back(id);
          const std::string sql = fmt::format("UPDATE {} SET {} WHERE `id` = ?", Quote(c.name), sets);
          auto outcome = std::make_shared<WriteOutcome>();
          auto snap = ctx.snapshot;
          outcome->status = co_await Await<util::Status>([&](std::function<void(util::Status)> done) {
            store.Write(
                [&c, snap, sql, params, changed, outcome](store::Tx& tx) -> util::Status {
                  if (auto st = CheckRelations(tx, *snap, c, changed, outcome->errors); !st.ok()) return st;
                  if (!outcome->errors.empty()) return util::Status::InvalidArgument("invalid relations");
                  auto r = tx.Exec(sql, params);
                  if (!r) {
                    UniqueError(c, r.error(), outcome->errors);
                    return r.error();
                  }
                  return *r == 1 ? util::Status::Ok() : util::Status::NotFound("record gone");
                },
                std::move(done));
          });
          if (outcome->status.code() == util::Status::Code::kNotFound) throw http::ApiError::NotFound();
          if (!outcome->status.ok()) {
            if (!outcome->errors.empty()) throw ValidationError("Failed to update record.", std::move(outcome->errors));
            throw http::ApiError::Internal(outcome->status.ToString());
          }
        }
        auto rs = FetchOne(store, c, id, "1");
        if (!rs) throw http::ApiError::NotFound();
        const auto& row = rs->rows[0];
        co_return http::Response::Json(
            200, boost::json::serialize(Shape(RecordToJson(c, *rs, row, JsonOptions(ctx, *rs, row)), OutputFields(req))));
      },
      json);

  router.Add(http::Verb::kDelete, "/api/collections/{collection}/records/{id}",
             [&](http::Request& req) -> net::awaitable<http::Response> {
               Context ctx = Resolve(req, catalog, store, tokens);
               const Collection& c = *ctx.collection;
               if (c.type == CollectionType::kView) throw http::ApiError::BadRequest("Unsupported collection type.");
               RequireRule(ctx, c.delete_rule);
               const auto condition = RuleCondition(ctx, c.delete_rule).value_or("0");
               const std::string id = req.Param("id");
               if (!FetchOne(store, c, id, condition)) throw http::ApiError::NotFound();
               auto snap = ctx.snapshot;
               auto status = co_await Await<util::Status>([&](std::function<void(util::Status)> done) {
                 store.Write([&c, snap, id](store::Tx& tx) { return DeleteWithReferences(tx, *snap, c, id, 0); },
                             std::move(done));
               });
               if (status.code() == util::Status::Code::kInvalidArgument) throw http::ApiError::BadRequest(status.message());
               if (!status.ok()) throw http::ApiError::Internal(status.ToString());
               co_return http::Response{204, "", "", {}};
             });
}

}  // namespace strata::api
