#include "api/records_routes.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <map>
#include <set>

#include "api/async.hpp"
#include "api/auth.hpp"
#include "api/auth_internal.hpp"
#include "api/fields.hpp"
#include "api/params.hpp"
#include "api/rate_limits.hpp"
#include "api/record_files.hpp"
#include "api/record_json.hpp"
#include "api/record_resolver.hpp"
#include "auth/password.hpp"
#include "auth/token.hpp"
#include "cache/response_cache.hpp"
#include "files/file_store.hpp"
#include "http/compress.hpp"
#include "http/etag.hpp"
#include "http/limits.hpp"
#include "http/router.hpp"
#include "query/parser.hpp"
#include "query/sql.hpp"
#include "schema/catalog.hpp"
#include "schema/ddl.hpp"
#include "schema/values.hpp"
#include "store/store.hpp"
#include "util/random.hpp"

namespace strata::api {
namespace {

namespace net = boost::asio;
using internal::HashOffThread;
using internal::VerifyOffThread;
using schema::Collection;
using schema::CollectionType;
using schema::Field;
using schema::FieldType;

constexpr int kMaxCascadeDepth = 16;
constexpr std::size_t kMaxBatchRequests = 50;

std::string Quote(std::string_view name) { return fmt::format("`{}`", name); }

// A column of the collection's table, qualified: lists may join other tables (full-text search).
std::string Column(const Collection& c, std::string_view name) { return Quote(c.name) + "." + Quote(name); }

http::ApiError ValidationError(std::string message, boost::json::object data) {
  return http::ApiError{400, std::move(message), std::move(data), {}};
}

boost::json::object ErrorEntry(const schema::FieldError& e) {
  boost::json::object entry{{"code", e.code}, {"message", e.message}};
  if (!e.params.empty()) entry["params"] = e.params;
  return entry;
}

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

// A WHERE condition with its bound values.
struct Condition {
  std::string sql;
  util::SqlParams params;
};

bool MentionsHeaders(const std::optional<std::string>& text) {
  return text && text->find("@request.headers") != std::string::npos;
}

// Whether the filter or sort may reach related records ("author.name", "posts_via_author.title"):
// then the related collections' list rules take part (a loose check: a "." anywhere).
bool ReadsRelations(const http::Request& req) {
  for (const char* param : {"filter", "sort"}) {
    if (const auto text = req.QueryParam(param); text && text->find('.') != std::string::npos) return true;
  }
  return false;
}

RequestInfo MakeRequestInfo(const http::Request& req, const Context& ctx) {
  RequestInfo info;
  if (ctx.auth) info.auth = ctx.auth->record;
  for (auto& [k, v] : req.QueryParams()) info.query[k] = v;
  // Headers are copied only when a rule or the filter can read them (expanded collections' view
  // rules included).
  const Collection& c = *ctx.collection;
  // A client's filter or sort through a relation reads the related collections under their list
  // rules, which may read headers too.
  if (req.QueryParam("expand").has_value() || MentionsHeaders(c.list_rule) || MentionsHeaders(c.view_rule) ||
      MentionsHeaders(c.create_rule) || MentionsHeaders(c.update_rule) || MentionsHeaders(c.delete_rule) ||
      MentionsHeaders(req.QueryParam("filter")) || ReadsRelations(req)) {
    for (auto& [k, v] : req.Headers()) {
      std::string name = k;
      for (auto& ch : name) ch = ch == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      info.headers[name] = v;
    }
  }
  info.method = std::string(req.method());
  if (req.json().is_object()) info.body = req.json().as_object();
  return info;
}

// The condition a rule adds for this requester. null: superusers only (callers answer 403 first);
// "": everyone; otherwise the rule as a filter over the records and the request. A rule that
// cannot be built (a field since removed) denies everyone but superusers.
Condition RuleCondition(const Context& ctx, const std::optional<std::string>& rule, const RequestInfo& info) {
  if (ctx.superuser()) return {"1", {}};
  if (!rule) return {"0", {}};
  if (rule->empty()) return {"1", {}};
  RecordFieldResolver resolver(*ctx.snapshot, *ctx.collection, ctx.collection->name, info);
  auto sql = query::BuildSql(*rule, resolver);
  if (!sql) {
    spdlog::warn("rule of {} cannot be applied: {}", ctx.collection->name, sql.error().ToString());
    return {"0", {}};
  }
  return {std::move(sql->text), std::move(sql->params)};
}

// Whether the requester manages records of an auth collection (PocketBase's manageRule): superusers
// always; others when the collection has a non-empty manageRule that lets them at the record. A
// manager may change a record's email and verified directly, and its password without the old one.
Condition ManageCondition(const Context& ctx, const RequestInfo& info) {
  if (ctx.superuser()) return {"1", {}};
  const Collection& c = *ctx.collection;
  if (c.type != CollectionType::kAuth || !ctx.auth) return {"0", {}};
  const auto it = c.options.find("manageRule");
  if (it == c.options.end() || !it->value().is_string() || it->value().as_string().empty()) return {"0", {}};
  return RuleCondition(ctx, std::string(it->value().as_string()), info);
}

// The ?filter= of a list, as a condition; 400 naming the position of a bad filter.
Condition FilterCondition(const Context& ctx, const std::string& filter, const RequestInfo& info) {
  if (filter.empty()) return {"1", {}};
  RecordFieldResolver resolver(*ctx.snapshot, *ctx.collection, ctx.collection->name, info);
  if (!ctx.superuser()) resolver.ForClient();
  auto sql = query::BuildSql(filter, resolver);
  if (!sql) {
    if (sql.error().code() == util::Status::Code::kInvalidArgument) {
      throw http::ApiError::BadRequest("Invalid filter: " + sql.error().message());
    }
    throw http::ApiError::Internal(sql.error().ToString());
  }
  return {std::move(sql->text), std::move(sql->params)};
}

// As PocketBase: only superusers may name @collection or @request in a list's filter or sort: 403.
void RequireSuperuserForRequestFields(const http::Request& req, const Context& ctx) {
  if (ctx.superuser()) return;
  for (const char* param : {"filter", "sort"}) {
    const auto text = req.QueryParam(param);
    if (const char* field = text ? SuperuserOnlyField(*text) : nullptr) {
      throw http::ApiError::Forbidden(fmt::format("Only superusers can filter by {}", field));
    }
  }
}

void RequireRule(const Context& ctx, const std::optional<std::string>& rule) {
  if (!rule && !ctx.superuser()) throw http::ApiError::Forbidden("Only superusers can perform this action.");
}

// The SQL of a sort by a field of single related records ("author.name"): one value per record,
// from the resolver filters use (hidden fields refused to clients, related records read under
// their list rule, whose values are bound); nullopt for anything else.
std::optional<Condition> RelatedSortTerm(const Context& ctx, const RequestInfo& info, std::string_view item) {
  if (item.find('.') == std::string_view::npos || item.starts_with('@')) return std::nullopt;
  RecordFieldResolver resolver(*ctx.snapshot, *ctx.collection, ctx.collection->name, info);
  if (!ctx.superuser()) resolver.ForClient();
  auto field = resolver.Resolve(item);
  if (!field || field->kind != query::ResolvedField::Kind::kSql || field->multi) return std::nullopt;
  Condition term;
  for (const auto& piece : field->sql.pieces()) {
    if (piece.is_value) {
      term.sql += '?';
      term.params.push_back(piece.value);
    } else {
      term.sql += piece.text;
    }
  }
  return term;
}

// Whether `f` of `c` may order a requester's list: never the password or tokenKey, hidden fields
// only for superusers.
bool Sortable(const Collection& c, const Field& f, bool superuser) {
  if (f.type == FieldType::kPassword || (c.type == CollectionType::kAuth && f.name == "tokenKey")) return false;
  return superuser || !f.hidden;
}

// As PocketBase: a sort of at most 8 fields, none of them blank (400).
constexpr std::size_t kMaxSortFields = 8;
void CheckSort(std::string_view sort) {
  if (sort.empty()) return;
  std::size_t fields = 0;
  std::size_t start = 0;
  for (;;) {
    const auto comma = sort.find(',', start);
    std::string_view item =
        util::TrimSpaces(sort.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (!item.empty() && (item.front() == '+' || item.front() == '-')) item.remove_prefix(1);
    if (item.empty()) throw http::ApiError::BadRequest("Invalid sort field \"\".");
    ++fields;
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  if (fields > kMaxSortFields) {
    throw http::ApiError::BadRequest(fmt::format("A sort may have at most {} fields.", kMaxSortFields));
  }
}

// ORDER BY for PocketBase's sort syntax, with "@random" and "@rowid": the collection's own fields,
// and fields of single related records ("author.name"), read as filters read them (with the values
// their SQL binds, in order).
Condition OrderBy(const Context& ctx, const RequestInfo& info, std::string_view sort) {
  CheckSort(sort);
  const Collection& c = *ctx.collection;
  const bool superuser = ctx.superuser();
  Condition out;
  for (const auto& [item, desc] : SortItems(sort)) {
    std::string term;
    if (item == "@random") {
      term = "RANDOM()";
    } else if (item == "@rowid") {
      term = Quote(c.name) + ".rowid";
    } else if (const Field* f = c.FindField(item); f && Sortable(c, *f, superuser)) {
      term = Column(c, f->name);
    } else if (auto related = RelatedSortTerm(ctx, info, item)) {
      term = std::move(related->sql);
      out.params.insert(out.params.end(), related->params.begin(), related->params.end());
    } else {
      throw http::ApiError::BadRequest(fmt::format("Invalid sort field {:?}.", item));
    }
    if (!out.sql.empty()) out.sql += ", ";
    out.sql += term;
    if (desc) out.sql += " DESC";
  }
  return out;
}

// A list's ?search=: the words, each quoted for FTS5 (so that no operator syntax reaches it), all
// required, the last one also as a prefix (for search-as-you-type).
struct Search {
  std::string query;  // the FTS5 query; empty: no search
  std::string join;   // " JOIN <fts> ON …", appended to FROM
  std::string match;  // the condition, with one placeholder for `query`
  std::string rank;   // ORDER BY term for relevance
  bool active() const { return !query.empty(); }
};

Search SearchFor(const Collection& c, std::string_view text) {
  Search s;
  std::vector<std::string> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (char ch : text) {
    // Separators are ASCII whitespace and punctuation; other bytes (letters, digits, UTF-8) make words.
    if (static_cast<unsigned char>(ch) < 0x80 && !std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') {
      flush();
    } else {
      word += ch;
    }
  }
  flush();
  if (words.empty()) return s;
  if (schema::SearchableFields(c).empty()) {
    throw http::ApiError::BadRequest(fmt::format("The collection {:?} has no searchable fields.", c.name));
  }
  if (words.size() > 32) throw http::ApiError::BadRequest("The search can have at most 32 words.");
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i) s.query += ' ';
    s.query += '"' + words[i] + '"';
    if (i + 1 == words.size()) s.query += '*';
  }
  const std::string fts = Quote(schema::SearchTable(c));
  s.join = fmt::format(" JOIN {0} ON {0}.rowid = {1}.rowid", fts, Quote(c.name));
  s.match = fmt::format("({0} MATCH ?)", fts);
  s.rank = fts + ".rank";
  return s;
}

// Keyset pagination ("?cursor="): the sort terms, each a field and a direction, ending with the
// id so that the order is total; a cursor holds the last row's values of those terms.
struct SortTerm {
  const Field* field;
  bool desc;
};

std::vector<SortTerm> CursorTerms(const Collection& c, std::string_view sort, bool superuser) {
  CheckSort(sort);
  std::vector<SortTerm> terms;
  for (const auto& [item, desc] : SortItems(sort)) {
    const Field* f = c.FindField(item);
    // A cursor carries its row's values: never an auth email but to superusers.
    const bool email = c.type == CollectionType::kAuth && f && f->name == "email" && !superuser;
    if (!f || !Sortable(c, *f, superuser) || email || f->type == FieldType::kJson || f->type == FieldType::kGeoPoint ||
        f->IsMultiple()) {
      throw http::ApiError::BadRequest(fmt::format("Invalid cursor sort field {:?}: use plain, indexed fields.", item));
    }
    terms.push_back({f, desc});
    if (f->IsPrimaryKey()) return terms;  // the id already makes the order total
  }
  // The id breaks ties in the direction of the last term, so that an index on (field, id) serves
  // the whole order in one scan, forwards or backwards.
  terms.push_back({c.FindField("id"), !terms.empty() && terms.back().desc});
  return terms;
}

// The cursor after `row`, whose columns are named `columns`.
std::string EncodeCursor(const std::vector<SortTerm>& terms, const std::vector<std::string>& columns,
                         std::span<const store::ColumnRef> row) {
  using Type = store::ColumnRef::Type;
  boost::json::array values;
  for (const auto& t : terms) {
    const auto it = std::find(columns.begin(), columns.end(), t.field->name);
    if (it == columns.end()) {
      values.emplace_back(nullptr);
      continue;
    }
    const auto& v = row[static_cast<std::size_t>(it - columns.begin())];
    switch (v.type) {
      case Type::kInteger:
        values.emplace_back(v.integer);
        break;
      case Type::kReal:
        values.emplace_back(v.real);
        break;
      case Type::kText:
      case Type::kBlob:
        values.emplace_back(v.text);
        break;
      case Type::kNull:
        values.emplace_back(nullptr);
    }
  }
  return auth::Base64UrlEncode(boost::json::serialize(values));
}

// The condition selecting rows after the cursor: (a > va) OR (a = va AND b > vb) OR …, with < for
// descending terms. Returns false in `ok` for a cursor that does not fit the terms.
std::string AfterCursor(const Collection& c, const std::vector<SortTerm>& terms, std::string_view cursor,
                        util::SqlParams& params) {
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
  // A range on the first term lets an index start at the cursor instead of scanning from the top.
  std::string out = Column(c, terms[0].field->name) + (terms[0].desc ? " <= ?" : " >= ?") + " AND (";
  params.push_back(values[0]);
  for (std::size_t i = 0; i < terms.size(); ++i) {
    out += i == 0 ? "(" : " OR (";
    for (std::size_t j = 0; j < i; ++j) {
      out += Column(c, terms[j].field->name) + " = ? AND ";
      params.push_back(values[j]);
    }
    out += Column(c, terms[i].field->name) + (terms[i].desc ? " < ?" : " > ?") + ")";
    params.push_back(values[i]);
  }
  return out + ")";
}

// How the record `id` of `c` is shown to the requester: its owner sees its email; superusers see
// its hidden fields too, as PocketBase (never the password or tokenKey).
RecordJsonOptions JsonOptions(const Context& ctx, const Collection& c, std::string_view id) {
  RecordJsonOptions o;
  o.show_hidden = ctx.superuser();
  o.show_email = ctx.superuser() || (ctx.auth && ctx.auth->collection && ctx.auth->collection->id == c.id &&
                                     !id.empty() && id == ctx.auth->record_id);
  return o;
}

RecordJsonOptions JsonOptions(const Context& ctx, const Collection& c, const store::ResultSet& rs,
                              const std::vector<util::SqlValue>& row) {
  std::string_view id;
  if (c.type == CollectionType::kAuth) {
    const int i = rs.ColumnIndex("id");
    const auto* text = i >= 0 ? std::get_if<std::string>(&row[static_cast<std::size_t>(i)]) : nullptr;
    if (text) id = *text;
  }
  return JsonOptions(ctx, c, id);
}

// The query of FetchOne: the record `id` of `c`, if `condition` holds for it.
struct OneRecord {
  std::string sql;
  util::SqlParams params;
};
OneRecord OneRecordQuery(const Collection& c, std::string_view id, const Condition& condition) {
  OneRecord q{fmt::format("SELECT * FROM {} WHERE `id` = ? AND ({}) LIMIT 1", Quote(c.name), condition.sql),
              {std::string(id)}};
  q.params.insert(q.params.end(), condition.params.begin(), condition.params.end());
  return q;
}

// Whether the request asks for records as they are: neither ?expand nor ?fields.
bool AsStored(const RequestInfo& info) { return !info.query.contains("expand") && !info.query.contains("fields"); }

// One record by id, or nullptr, read on the calling thread's connection.
std::optional<store::ResultSet> FetchOne(store::Store& store, const Collection& c, std::string_view id,
                                         const Condition& condition) {
  const auto q = OneRecordQuery(c, id, condition);
  auto rs = store.Query(q.sql, q.params);
  if (!rs) throw http::ApiError::Internal(rs.error().ToString());
  if (rs->rows.empty()) return std::nullopt;
  return std::move(*rs);
}

// ---- expand ----

struct ExpandNode {
  std::map<std::string, ExpandNode> children;
};

// The collection a relation `name` of `c` leads to (a relation field, or "collection_via_field"
// for records of that collection pointing at `c`), and for a back-relation its field; nullptr
// when `name` is neither.
std::pair<const Collection*, const Field*> ExpandTarget(const schema::Snapshot& snap, const Collection& c,
                                                        const std::string& name) {
  if (const Field* rel = c.FindField(name); rel && rel->type == FieldType::kRelation) {
    return {snap.Find(rel->StringOption("collectionId")), nullptr};
  }
  const auto via = name.find("_via_");
  if (via == std::string::npos) return {nullptr, nullptr};
  const Collection* target = snap.Find(name.substr(0, via));
  const Field* back = target ? target->FindField(name.substr(via + 5)) : nullptr;
  if (!back || back->type != FieldType::kRelation || back->StringOption("collectionId") != c.id)
    return {nullptr, nullptr};
  return {target, back};
}

// ?expand= as a tree of relation names. As PocketBase, a path with a name that is not a relation
// at its level is left out whole ("author.nope" expands nothing), and levels past the sixth are
// ignored.
ExpandNode ParseExpand(const schema::Snapshot& snap, const Collection& c, std::string_view param) {
  ExpandNode root;
  while (!param.empty()) {
    const auto comma = param.find(',');
    std::string_view path = param.substr(0, comma);
    param = comma == std::string_view::npos ? std::string_view{} : param.substr(comma + 1);
    std::vector<std::string> segments;
    bool known = true;
    for (const Collection* at = &c; !path.empty() && at && segments.size() < kMaxRelationDepth;) {
      const auto dot = path.find('.');
      std::string seg(util::TrimSpaces(path.substr(0, dot)));
      path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
      if (seg.empty()) break;
      at = ExpandTarget(snap, *at, seg).first;
      known = at != nullptr;
      segments.push_back(std::move(seg));
    }
    if (!known) continue;
    ExpandNode* node = &root;
    for (const auto& seg : segments) node = &node->children[seg];
  }
  return root;
}

// Fills record["expand"][name] for every record of `c` and recurses into the expanded records.
// Related records are fetched in one query per level and filtered by their collection's view rule,
// as PocketBase does: a related record the requester may not view is left out.
void ExpandLevel(store::Store& store, const Context& ctx, const RequestInfo& info, const Collection& c,
                 std::vector<boost::json::object*>& records, const ExpandNode& node) {
  if (records.empty()) return;
  for (const auto& [name, child] : node.children) {
    // for name_via_field, `back` is the relation field of `target` pointing at `c`
    const auto [target, back] = ExpandTarget(*ctx.snapshot, c, name);
    if (!target) continue;
    if (!target->view_rule && !ctx.superuser()) continue;

    Context target_ctx = ctx;
    target_ctx.collection = target;
    const Condition rule = RuleCondition(target_ctx, target->view_rule, info);

    boost::json::array keys;  // ids to look up (relation) or to match (back-relation)
    std::set<std::string> seen;
    for (auto* r : records) {
      if (back) {
        const std::string id(r->at("id").as_string());
        if (seen.insert(id).second) keys.emplace_back(id);
      } else if (auto it = r->find(name); it != r->end()) {
        auto add = [&](const boost::json::value& v) {
          if (v.is_string() && !v.as_string().empty() && seen.insert(std::string(v.as_string())).second)
            keys.push_back(v);
        };
        if (it->value().is_array()) {
          for (const auto& v : it->value().as_array()) add(v);
        } else {
          add(it->value());
        }
      }
    }
    if (keys.empty()) continue;
    const std::string table = Quote(target->name);
    std::string link;
    if (!back) {
      link = "`id` IN (SELECT value FROM json_each(?))";
    } else if (back->IsMultiple()) {
      link = fmt::format("EXISTS (SELECT 1 FROM json_each({}) WHERE value IN (SELECT value FROM json_each(?)))",
                         Quote(back->name));
    } else {
      link = fmt::format("{} IN (SELECT value FROM json_each(?))", Quote(back->name));
    }
    util::SqlParams params{boost::json::serialize(keys)};
    params.insert(params.end(), rule.params.begin(), rule.params.end());
    auto rs =
        store.Query(fmt::format("SELECT * FROM {} WHERE {} AND ({}) ORDER BY rowid", table, link, rule.sql), params);
    if (!rs) throw http::ApiError::Internal(rs.error().ToString());

    std::vector<boost::json::object> fetched;
    fetched.reserve(rs->rows.size());
    for (const auto& row : rs->rows)
      fetched.push_back(RecordToJson(*target, *rs, row, JsonOptions(ctx, *target, *rs, row)));
    std::vector<boost::json::object*> next;
    for (auto& f : fetched) next.push_back(&f);
    ExpandLevel(store, ctx, info, *target, next, child);

    std::map<std::string, const boost::json::object*> by_id;
    for (const auto& f : fetched) by_id[std::string(f.at("id").as_string())] = &f;
    for (auto* r : records) {
      boost::json::value value;
      if (back) {
        boost::json::array items;
        const auto id = r->at("id").as_string();
        for (const auto& f : fetched) {
          auto link_it = f.find(back->name);
          if (link_it == f.end()) continue;
          const auto& link_value = link_it->value();
          const bool links = link_value.is_array()
                                 ? std::find(link_value.as_array().begin(), link_value.as_array().end(),
                                             boost::json::value(id)) != link_value.as_array().end()
                                 : link_value == boost::json::value(id);
          if (links) items.push_back(f);
        }
        if (items.empty()) continue;
        // One record at most links back through a single relation with a unique index: the
        // record itself, as PocketBase expands it.
        if (!back->IsMultiple() && schema::HasSingleColumnUniqueIndex(*target, back->name)) {
          value = std::move(items.front());
        } else {
          value = std::move(items);
        }
      } else {
        auto field_it = r->find(name);
        if (field_it == r->end()) continue;
        const auto& v = field_it->value();
        if (v.is_array()) {
          boost::json::array items;
          for (const auto& id : v.as_array()) {
            if (auto it = by_id.find(std::string(id.as_string())); it != by_id.end()) items.push_back(*it->second);
          }
          if (items.empty()) continue;
          value = std::move(items);
        } else {
          auto it = by_id.find(std::string(v.as_string()));
          if (it == by_id.end()) continue;
          value = *it->second;
        }
      }
      auto& expand = (*r)["expand"];
      if (!expand.is_object()) expand = boost::json::object();
      expand.as_object()[name] = std::move(value);
    }
  }
}

// The response form of rows of `c`: typed JSON, expanded (?expand=) and shaped (?fields=).
boost::json::array Present(store::Store& store, const Context& ctx, const RequestInfo& info, const Collection& c,
                           const store::ResultSet& rs) {
  std::vector<boost::json::object> records;
  records.reserve(rs.rows.size());
  for (const auto& row : rs.rows) records.push_back(RecordToJson(c, rs, row, JsonOptions(ctx, c, rs, row)));
  if (HasFileFields(c)) {
    std::vector<std::string> ids;
    for (const auto& r : records) ids.emplace_back(r.at("id").as_string());
    auto hashes = BlurHashes(store, c, ids);
    for (auto& r : records) {
      if (auto it = hashes.find(std::string(r.at("id").as_string())); it != hashes.end()) {
        r[kBlurHashKey] = std::move(it->second);
      }
    }
  }
  auto query_string = [&](const char* key) -> std::string {
    auto it = info.query.find(key);
    return it != info.query.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
  };
  const std::string expand = query_string("expand");
  if (!expand.empty()) {
    std::vector<boost::json::object*> ptrs;
    for (auto& r : records) ptrs.push_back(&r);
    ExpandLevel(store, ctx, info, c, ptrs, ParseExpand(*ctx.snapshot, c, expand));
  }
  auto picker = FieldPicker::Parse(query_string("fields"));
  if (!picker) throw http::ApiError::BadRequest(fmt::format("Invalid fields: {}", picker.error().message()));
  boost::json::value out = boost::json::array();
  for (auto& r : records) out.as_array().emplace_back(std::move(r));
  picker->Apply(out);
  return std::move(out.as_array());
}

// Appends Present() as JSON text to `out`. Without ?expand and ?fields the rows are written
// straight to text.
void AppendPresented(std::string& out, store::Store& store, const Context& ctx, const RequestInfo& info,
                     const Collection& c, const store::ResultSet& rs, bool single) {
  const bool plain = AsStored(info);
  if (!plain) {
    auto items = Present(store, ctx, info, c, rs);
    out += boost::json::serialize(single ? items.at(0) : boost::json::value(std::move(items)));
    return;
  }
  // Room for the values and the keys around them, so that the text is not copied as it grows.
  std::size_t bytes = 0;
  for (const auto& row : rs.rows) {
    for (const auto& v : row) {
      if (const auto* text = std::get_if<std::string>(&v)) bytes += text->size();
    }
  }
  out.reserve(out.size() + bytes + bytes / 8 + 64 * c.fields.size() * (rs.rows.size() + 1) + 64);
  const RecordJsonWriter writer(c, rs);
  // The BlurHashes of the images, added as the last key of their records.
  std::unordered_map<std::string, boost::json::object> hashes;
  const int id_column = rs.ColumnIndex("id");
  if (HasFileFields(c) && id_column >= 0) {
    std::vector<std::string> ids;
    for (const auto& row : rs.rows) ids.push_back(std::get<std::string>(row[static_cast<std::size_t>(id_column)]));
    hashes = BlurHashes(store, c, ids);
  }
  if (!single) out += '[';
  for (std::size_t i = 0; i < rs.rows.size(); ++i) {
    if (i) out += ',';
    writer.Append(out, rs.rows[i], JsonOptions(ctx, c, rs, rs.rows[i]));
    if (!hashes.empty()) {
      auto it = hashes.find(std::get<std::string>(rs.rows[i][static_cast<std::size_t>(id_column)]));
      if (it != hashes.end()) {
        out.pop_back();  // the record's closing brace
        out += ",\"";
        out += kBlurHashKey;
        out += "\":";
        out += boost::json::serialize(it->second);
        out += '}';
      }
    }
    if (single) break;
  }
  if (!single) out += ']';
}

std::string PresentText(store::Store& store, const Context& ctx, const RequestInfo& info, const Collection& c,
                        const store::ResultSet& rs, bool single) {
  std::string out;
  AppendPresented(out, store, ctx, info, c, rs, single);
  return out;
}

// One page of a list (or, `single`, one record), read row by row. Without ?expand and ?fields, on
// a collection without images (whose records get BlurHashes, read by another query), each row is
// written as JSON text as it is read, straight from the database's copy; otherwise the rows are
// kept for Present. Reads at most `limit` rows, and tells whether there were more.
class Page final : public store::RowSink {
 public:
  Page(std::string& out, const Context& ctx, const RequestInfo& info, const Collection& c, int64_t limit,
       const std::vector<SortTerm>* cursor_terms, bool single = false)
      : out_(out),
        ctx_(ctx),
        c_(c),
        limit_(limit),
        cursor_terms_(cursor_terms),
        single_(single),
        stream_(AsStored(info) && !HasFileFields(c)) {}

  void Columns(const std::vector<std::string>& names) override {
    rows_.columns = names;
    if (stream_) writer_.emplace(c_, names);
    id_column_ = rows_.ColumnIndex("id");
  }

  bool Row(std::span<const store::ColumnRef> row) override {
    if (count_ == limit_) {
      more_ = true;
      return false;
    }
    ++count_;
    if (count_ == limit_ && cursor_terms_) cursor_ = EncodeCursor(*cursor_terms_, rows_.columns, row);
    if (!stream_) {
      rows_.Append(row);
      return true;
    }
    if (!single_) out_ += count_ == 1 ? '[' : ',';
    std::string_view id;
    if (id_column_ >= 0 && row[static_cast<std::size_t>(id_column_)].type == store::ColumnRef::Type::kText) {
      id = row[static_cast<std::size_t>(id_column_)].text;
    }
    const std::size_t start = out_.size();
    writer_->Append(out_, row, JsonOptions(ctx_, c_, id));
    // Room for the page, judged by its first record with a quarter more for the others' lengths,
    // so that the text is not copied as it grows.
    if (count_ == 1 && limit_ > 1) {
      const std::size_t record = out_.size() - start + 1;
      out_.reserve(out_.size() + std::min<std::size_t>(record * static_cast<std::size_t>(limit_) * 5 / 4, 4 << 20));
    }
    return true;
  }

  // Ends the JSON array of the page's records (the record, if `single`: there must be one), once
  // every row was read.
  void Finish(store::Store& store, const RequestInfo& info) {
    if (!stream_) {
      AppendPresented(out_, store, ctx_, info, c_, rows_, single_);
      return;
    }
    if (single_) return;
    if (count_ == 0) out_ += '[';
    out_ += ']';
  }

  int64_t count() const { return count_; }
  bool more() const { return more_; }
  // The cursor after the page's last row, once `limit` rows were read.
  const std::string& cursor() const { return cursor_; }

 private:
  std::string& out_;
  const Context& ctx_;
  const Collection& c_;
  const int64_t limit_;
  const std::vector<SortTerm>* cursor_terms_;
  const bool single_;
  const bool stream_;
  std::optional<RecordJsonWriter> writer_;
  int id_column_ = -1;
  int64_t count_ = 0;
  bool more_ = false;
  std::string cursor_;
  store::ResultSet rows_;  // the rows kept, when not streaming
};

// {"items":[…], …rest(page)}: the list envelope around the page of at most `limit` records that
// `sql` reads (the cursor is taken after the last with `cursor_terms`, unless null).
std::string ListJson(store::Store& store, const Context& ctx, const RequestInfo& info, int64_t limit,
                     const std::vector<SortTerm>* cursor_terms, std::string_view sql, const util::SqlParams& params,
                     const std::function<boost::json::object(const Page&)>& rest) {
  std::string out = "{\"items\":";
  Page page(out, ctx, info, *ctx.collection, limit, cursor_terms);
  if (auto st = store.QueryRows(sql, params, page); !st.ok()) throw http::ApiError::Internal(st.ToString());
  page.Finish(store, info);
  for (const auto& [k, v] : rest(page)) {
    out += ",\"";
    out += k;
    out += "\":";
    out += boost::json::serialize(v);
  }
  out += '}';
  // A page shorter than the room taken for it is not kept (in the response cache) with that room.
  if (out.capacity() > 2 * out.size() + 4096) out.shrink_to_fit();
  return out;
}

// ---- writes ----

// A record being built from a request body: canonical values per field, errors per field.
struct Draft {
  boost::json::object values;  // field name → canonical JSON value
  boost::json::object errors;
  std::string password;  // plain text of a new password, hashed before saving
};

// A string member of a request body; empty when absent or not a string.
std::string BodyText(const boost::json::object& body, std::string_view key) {
  auto it = body.find(key);
  return it != body.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
}

std::string NewPassword(const boost::json::object& body) { return BodyText(body, "password"); }

boost::json::object Mismatch() {
  return boost::json::object{{"code", "validation_values_mismatch"}, {"message", "Values don't match."}};
}

// Applies the body to `draft` (which holds the current values on update, zero values on create).
// Unless the requester is a `manager` (ManageCondition), an auth record's verified cannot change,
// nor, once created, its email: as PocketBase, a different value is a field error.
void ApplyBody(const Collection& c, const boost::json::object& body, bool creating, bool manager, Draft& draft) {
  for (const Field& f : c.fields) {
    if (f.type == FieldType::kAutodate) continue;
    const bool is_auth = c.type == CollectionType::kAuth;
    if (is_auth && f.name == "tokenKey") continue;
    if (f.type == FieldType::kPassword) {
      auto pw = NewPassword(body);
      if (body.contains(f.name)) {
        auto confirm = body.find("passwordConfirm");
        if (is_auth && (confirm == body.end() || !confirm->value().is_string() || confirm->value().as_string() != pw)) {
          draft.errors["passwordConfirm"] = Mismatch();
        }
        draft.values[f.name] = pw;
        draft.password = pw;
        if (auto e = schema::ValidateValue(f, boost::json::value(pw))) draft.errors[f.name] = ErrorEntry(*e);
      } else if (creating && f.required) {
        draft.errors[f.name] = boost::json::object{{"code", "validation_required"}, {"message", "Cannot be blank."}};
      }
      continue;
    }
    if (is_auth && !manager && (f.name == "verified" || (f.name == "email" && !creating))) {
      if (auto it = body.find(f.name); it != body.end()) {
        const auto current = draft.values.contains(f.name) ? draft.values[f.name] : schema::ZeroValue(f);
        if (schema::CastValue(f, it->value()) != current) draft.errors[f.name] = Mismatch();
      }
      continue;
    }
    if (f.IsPrimaryKey() && !creating) {
      // The id never changes: another one is a field error, as PocketBase's.
      if (auto it = body.find(f.name); it != body.end() && draft.values.contains(f.name) &&
                                       schema::CastValue(f, it->value()) != draft.values[f.name]) {
        draft.errors[f.name] = boost::json::object{{"code", "validation_pk_change"},
                                                   {"message", "The record primary key cannot be changed."}};
      }
      continue;
    }

    boost::json::value value = draft.values.contains(f.name) ? draft.values[f.name] : schema::ZeroValue(f);
    bool touched = false;
    if (auto it = body.find(f.name); it != body.end()) {
      value = schema::CastValue(f, it->value());
      touched = true;
    }
    value = schema::ApplyModifiers(f, body, std::move(value), touched);
    if (f.IsPrimaryKey()) {
      if (!touched || value.as_string().empty()) {
        value = util::RandomStringByPattern(f.StringOption("autogeneratePattern")).value_or(schema::NewId());
      } else if (auto e = schema::ValidateValue(f, value)) {
        draft.errors[f.name] = ErrorEntry(*e);
      }
      draft.values[f.name] = value;
      continue;
    }
    if (f.type == FieldType::kText && value.as_string().empty() && creating &&
        !f.StringOption("autogeneratePattern").empty()) {
      // A value of the pattern; a pattern too rich to generate from gets random letters and digits.
      value = util::RandomStringByPattern(f.StringOption("autogeneratePattern"))
                  .value_or(auth::RandomSecret(static_cast<std::size_t>(std::max<int64_t>(15, f.IntOption("min")))));
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
    auto rs =
        tx.Query(fmt::format("SELECT count(*) FROM {} WHERE `id` IN ({})", Quote(target->name), placeholders), params);
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
      errors[col] = boost::json::object{
          {"code", col == "id" ? "validation_pk_invalid" : "validation_not_unique"},
          {"message", col == "id" ? "The record primary key is invalid or already exists." : "Value must be unique."}};
      any = true;
    }
  }
  return any;
}

// Deletes `id` from `c` and follows relations pointing at it: cascade-deleting referencing
// records, or removing the id from their relation fields (refused when that empties a required one).
util::Status DeleteWithReferences(store::Tx& tx, const schema::Snapshot& snap, const Collection& c,
                                  const std::string& id, int depth, std::vector<std::string>& folders,
                                  std::vector<RecordChange>& changes) {
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
          if (auto st = DeleteWithReferences(tx, snap, other, ref_id, depth + 1, folders, changes); !st.ok()) {
            return st;
          }
          continue;
        }
        if (f.required && empties) {
          return util::Status::InvalidArgument(
              "The record cannot be deleted because it is part of a required reference in another record.");
        }
        // A record whose reference is emptied is updated: its onUpdate dates move as well.
        util::SqlParams params;
        if (f.IsMultiple()) params.emplace_back(std::string(id));
        const std::string touched = schema::UpdatedDatesSql(other, params);
        params.emplace_back(std::string(ref_id));
        auto upd = tx.Exec(f.IsMultiple()
                               ? fmt::format("UPDATE {} SET {} = (SELECT json_group_array(value) FROM json_each({}) "
                                             "WHERE value != ?){} WHERE `id` = ?",
                                             table, col, col, touched)
                               : fmt::format("UPDATE {} SET {} = ''{} WHERE `id` = ?", table, col, touched),
                           params);
        if (!upd) return upd.error();
        if (auto st = AddRecordChange(tx, other, "update", ref_id, changes); !st.ok()) return st;
      }
    }
  }
  // The record as it was, for its delete event (the caller reads the one it was asked to delete).
  if (depth > 0) {
    if (auto st = AddRecordChange(tx, c, "delete", id, changes); !st.ok()) return st;
  }
  auto del = tx.Exec(fmt::format("DELETE FROM {} WHERE `id` = ?", Quote(c.name)), {id});
  if (!del) return del.error();
  if (HasFileFields(c) && *del > 0) {
    if (auto st = DeleteFileRows(tx, c.id, id); !st.ok()) return st;
    folders.push_back(RecordFolder(c.id, id));
  }
  return util::Status::Ok();
}

// ---- write operations ----
//
// A create, update or delete is prepared on the I/O thread (everything that needs no database
// state: casting, validation, password hashing), then applied inside the writer's transaction,
// where it reads the current row, checks the rule and the relations, and writes. A single request
// applies one operation; a batch applies many in one transaction.

enum class OpKind { kCreate, kUpdate, kDelete };

struct WriteOp {
  OpKind kind;
  Context ctx;
  RequestInfo info;
  std::string id;
  // Runs inside the transaction; field errors go to `errors`. Returns Ok, NotFound (no such
  // record for this requester, or a create refused by its rule), InvalidArgument (with `errors`,
  // or a refusal message), or the store's error.
  std::function<util::Status(store::Tx&, boost::json::object& errors)> apply;
  // The row as stored, read by `apply` inside its transaction (creates and updates), so that the
  // response needs no second read.
  std::shared_ptr<std::optional<store::ResultSet>> written = std::make_shared<std::optional<store::ResultSet>>();
  // Other records a delete's references changed (deleted by a cascade, or their relation to it
  // emptied), as their events carry them; filled inside the transaction.
  std::shared_ptr<std::vector<RecordChange>> cascaded = std::make_shared<std::vector<RecordChange>>();
  // Files: written to the store before the transaction (removed again if it fails), and those it
  // leaves unreferenced (removed once it commits).
  struct FileEffects {
    std::vector<std::string> written;
    std::vector<std::string> obsolete;
    std::vector<std::string> folders;  // of deleted records
  };
  std::shared_ptr<FileEffects> files = std::make_shared<FileEffects>();
};

// Drops file names from `values` that are neither in `before` (the stored values) nor new
// uploads, and checks the file fields again (required, maxSelect) after that.
void KeepKnownFiles(const Collection& c, const boost::json::object* before, const std::vector<StagedFile>& staged,
                    boost::json::object& values, boost::json::object& errors) {
  for (const Field& f : c.fields) {
    if (f.type != FieldType::kFile) continue;
    auto it = values.find(f.name);
    if (it == values.end()) continue;
    std::vector<std::string> known;
    if (before) {
      if (auto b = before->find(f.name); b != before->end()) known = FileNames(b->value());
    }
    for (const auto& file : staged) {
      if (file.field == f.name) known.push_back(file.name);
    }
    const auto names = FileNames(it->value());
    boost::json::array kept;
    for (const auto& name : names) {
      if (std::find(known.begin(), known.end(), name) != known.end()) kept.emplace_back(name);
    }
    if (kept.size() != names.size()) {
      it->value() = f.IsMultiple() ? boost::json::value(kept)
                                   : boost::json::value(kept.empty() ? boost::json::string() : kept.back().as_string());
    }
    if (!errors.contains(f.name)) {
      if (auto e = schema::ValidateValue(f, it->value())) errors[f.name] = ErrorEntry(*e);
    }
  }
}

// Reads the row `where` (with `params`) of `c` inside the transaction into `out`.
util::Status ReadWritten(store::Tx& tx, const Collection& c, std::string_view where, const util::SqlParams& params,
                         std::optional<store::ResultSet>& out) {
  auto rs = tx.Query(fmt::format("SELECT * FROM {} WHERE {}", Quote(c.name), where), params);
  if (!rs) return rs.error();
  if (!rs->rows.empty()) out = std::move(*rs);
  return util::Status::Ok();
}

const char* FailureMessage(OpKind kind) {
  switch (kind) {
    case OpKind::kCreate:
      return "Failed to create record.";
    case OpKind::kUpdate:
      return "Failed to update record.";
    case OpKind::kDelete:
      return "Failed to delete record.";
  }
  return "";
}

// The API error of an operation that failed with `st` and `errors`.
http::ApiError OpError(OpKind kind, const util::Status& st, boost::json::object errors) {
  switch (st.code()) {
    case util::Status::Code::kNotFound:
      return kind == OpKind::kCreate ? http::ApiError::BadRequest(FailureMessage(kind)) : http::ApiError::NotFound();
    case util::Status::Code::kInvalidArgument:
    case util::Status::Code::kConstraint:
      if (!errors.empty()) return ValidationError(FailureMessage(kind), std::move(errors));
      return http::ApiError::BadRequest(st.message());
    default:
      return http::ApiError::Internal(st.ToString());
  }
}

// The current row of `id` as canonical JSON values, from inside the transaction.
util::Result<std::optional<boost::json::object>> CurrentValues(store::Tx& tx, const Collection& c,
                                                               const std::string& id) {
  auto rs = tx.Query(fmt::format("SELECT * FROM {} WHERE `id` = ?", Quote(c.name)), {id});
  if (!rs) return std::unexpected(rs.error());
  if (rs->rows.empty()) return std::optional<boost::json::object>();
  boost::json::object values;
  for (const Field& f : c.fields) {
    const int i = rs->ColumnIndex(f.name);
    if (i >= 0) values[f.name] = FieldValueToJson(f, rs->rows[0][static_cast<std::size_t>(i)]);
  }
  return std::optional<boost::json::object>(std::move(values));
}

// True if the rule lets this requester act on row `id` (inside the transaction).
util::Result<bool> RuleAllows(store::Tx& tx, const Collection& c, const std::string& id, const Condition& rule) {
  if (rule.sql == "1") return true;
  util::SqlParams params{id};
  params.insert(params.end(), rule.params.begin(), rule.params.end());
  auto rs = tx.Query(fmt::format("SELECT 1 FROM {} WHERE `id` = ? AND ({})", Quote(c.name), rule.sql), params);
  if (!rs) return std::unexpected(rs.error());
  return !rs->rows.empty();
}

// As PocketBase: a requester who is not a superuser cannot set hidden fields (an auth record's
// password excepted). Their values in the body, modifiers included, are dropped (rules see the body
// without them), and so are files sent for them; the files that remain are returned.
std::vector<http::UploadedFile> DropHidden(const Context& ctx, RequestInfo& info,
                                           const std::vector<http::UploadedFile>& uploads) {
  const Collection& c = *ctx.collection;
  if (ctx.superuser()) return uploads;
  std::vector<std::string> hidden;
  for (const Field& f : c.fields) {
    if (!f.hidden || (c.type == CollectionType::kAuth && f.type == FieldType::kPassword)) continue;
    hidden.push_back(f.name);
    info.body.erase(f.name);
    for (const std::string& key : schema::ModifierKeys(f)) info.body.erase(key);
  }
  if (hidden.empty()) return uploads;
  std::vector<http::UploadedFile> kept;
  for (const auto& u : uploads) {
    if (std::find(hidden.begin(), hidden.end(), http::FieldOfPart(u.field)) == hidden.end()) kept.push_back(u);
  }
  return kept;
}

// A write's ?fields is checked before anything is written: a bad one is 400 with nothing done.
void RequireValidFields(const RequestInfo& info) {
  const auto it = info.query.find("fields");
  if (it == info.query.end() || !it->value().is_string()) return;
  if (auto picker = FieldPicker::Parse(it->value().as_string()); !picker) {
    throw http::ApiError::BadRequest(fmt::format("Invalid fields: {}", picker.error().message()));
  }
}

net::awaitable<WriteOp> PrepareCreate(Context ctx, RequestInfo info, files::FileStore& fs,
                                      const std::vector<http::UploadedFile>& all_uploads) {
  RequireValidFields(info);
  const auto uploads = DropHidden(ctx, info, all_uploads);
  const Collection& c = *ctx.collection;
  if (c.type == CollectionType::kView) throw http::ApiError::BadRequest("Unsupported collection type.");
  RequireRule(ctx, c.create_rule);
  Draft draft;
  auto staged = StageUploads(c, uploads, info.body, draft.errors);
  // Whether the requester manages the new record is known once it is inserted: a manageRule that
  // may grant it lets the body through here, and the transaction checks it.
  const Condition manage = ManageCondition(ctx, info);
  ApplyBody(c, info.body, /*creating=*/true, manage.sql != "0", draft);
  const bool verifies = c.type == CollectionType::kAuth && !ctx.superuser() && draft.values.contains("verified") &&
                        draft.values["verified"] == true;
  KeepKnownFiles(c, nullptr, staged, draft.values, draft.errors);
  if (!draft.errors.empty()) throw ValidationError(FailureMessage(OpKind::kCreate), std::move(draft.errors));
  DropUnused(staged, draft.values);
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
  WriteOp op{OpKind::kCreate, ctx, info, std::string(draft.values["id"].as_string()), {}};
  const Condition rule = RuleCondition(ctx, c.create_rule, info);
  co_await WriteUploads(fs, c, op.id, staged);
  for (const auto& file : staged) op.files->written.push_back(FileKey(c.id, op.id, file.name));
  op.apply = [ctx, id = op.id, values = std::move(draft.values), params = std::move(params), rule, written = op.written,
              staged = std::move(staged), effects = op.files, manage = verifies ? manage : Condition{"1", {}},
              sql = fmt::format("INSERT INTO {} ({}) VALUES ({})", Quote(c.name), cols, marks)](
                 store::Tx& tx, boost::json::object& errors) -> util::Status {
    const Collection& c = *ctx.collection;
    if (auto st = CheckRelations(tx, *ctx.snapshot, c, values, errors); !st.ok()) return st;
    if (!errors.empty()) return util::Status::InvalidArgument("invalid relations");
    if (auto r = tx.Exec(sql, params); !r) {
      UniqueError(c, r.error(), errors);
      return r.error();
    }
    // The create rule sees the record as it would be stored; a refusal rolls it back.
    auto allowed = RuleAllows(tx, c, id, rule);
    if (!allowed) return allowed.error();
    if (!*allowed) return util::Status::NotFound("refused by the create rule");
    // Only a manager creates a verified record.
    auto manages = RuleAllows(tx, c, id, manage);
    if (!manages) return manages.error();
    if (!*manages) {
      errors["verified"] = Mismatch();
      return util::Status::InvalidArgument("invalid data");
    }
    if (auto st = ReadWritten(tx, c, "rowid = last_insert_rowid()", {}, *written); !st.ok()) return st;
    effects->obsolete.clear();
    return SyncFileRows(tx, c, id, staged, nullptr, values, effects->obsolete);
  };
  co_return op;
}

net::awaitable<WriteOp> PrepareUpdate(store::Store& store, Context ctx, RequestInfo info, std::string id,
                                      files::FileStore& fs, const std::vector<http::UploadedFile>& all_uploads) {
  RequireValidFields(info);
  const auto uploads = DropHidden(ctx, info, all_uploads);
  const Collection& c = *ctx.collection;
  if (c.type == CollectionType::kView) throw http::ApiError::BadRequest("Unsupported collection type.");
  RequireRule(ctx, c.update_rule);
  boost::json::object upload_errors;
  auto staged = StageUploads(c, uploads, info.body, upload_errors);
  if (!upload_errors.empty()) throw ValidationError(FailureMessage(OpKind::kUpdate), std::move(upload_errors));
  std::string hashed;
  const std::string password = NewPassword(info.body);
  if (!password.empty() && c.FindField("password")) hashed = co_await HashOffThread(password);
  // A new password from someone who may not manage the record needs the old one: checked here
  // against the stored hash, off the I/O thread, and in the transaction that the hash is the same.
  // Whether the requester manages the record matters only to a body that names what managers may
  // change: the database is asked only then.
  const bool auth_record = c.type == CollectionType::kAuth && !ctx.superuser() &&
                           (info.body.contains("email") || info.body.contains("verified") ||
                            info.body.contains("password") || info.body.contains("passwordConfirm"));
  const bool new_password = auth_record && (!password.empty() || !BodyText(info.body, "passwordConfirm").empty());
  const std::string old_password = BodyText(info.body, "oldPassword");
  std::string matched_hash;  // the stored hash `old_password` matched
  if (new_password && !old_password.empty()) {
    auto rs = store.Query(fmt::format("SELECT `password` FROM {} WHERE `id` = ?", Quote(c.name)), {id});
    if (!rs) throw http::ApiError::Internal(rs.error().ToString());
    const auto* hash = rs->rows.empty() ? nullptr : std::get_if<std::string>(&rs->rows[0][0]);
    if (hash && co_await VerifyOffThread(*hash, old_password)) matched_hash = *hash;
  }
  WriteOp op{OpKind::kUpdate, ctx, info, id, {}};
  co_await WriteUploads(fs, c, id, staged);
  for (const auto& file : staged) op.files->written.push_back(FileKey(c.id, id, file.name));
  op.apply = [ctx, info, id, hashed, written = op.written, staged = std::move(staged), effects = op.files, auth_record,
              new_password, old_given = !old_password.empty(),
              matched_hash](store::Tx& tx, boost::json::object& errors) -> util::Status {
    const Collection& c = *ctx.collection;
    auto current = CurrentValues(tx, c, id);
    if (!current) return current.error();
    if (!*current) return util::Status::NotFound("no such record");
    RequestInfo rule_info = info;
    rule_info.current = &**current;
    auto allowed = RuleAllows(tx, c, id, RuleCondition(ctx, c.update_rule, rule_info));
    if (!allowed) return allowed.error();
    if (!*allowed) return util::Status::NotFound("refused by the update rule");

    bool manager = ctx.superuser();
    if (auth_record) {
      auto manages = RuleAllows(tx, c, id, ManageCondition(ctx, rule_info));
      if (!manages) return manages.error();
      manager = *manages;
    }
    Draft draft;
    draft.values = **current;
    ApplyBody(c, info.body, /*creating=*/false, manager, draft);
    if (new_password && !manager) {
      const auto stored = (*current)->find("password");
      if (!old_given) {
        draft.errors["oldPassword"] =
            boost::json::object{{"code", "validation_required"}, {"message", "Cannot be blank."}};
      } else if (matched_hash.empty() || stored == (*current)->end() ||
                 stored->value() != boost::json::value(matched_hash)) {
        draft.errors["oldPassword"] = boost::json::object{{"code", "validation_invalid_old_password"},
                                                          {"message", "Missing or invalid old password."}};
      }
    }
    KeepKnownFiles(c, &**current, staged, draft.values, draft.errors);
    if (!draft.errors.empty()) {
      errors = std::move(draft.errors);
      return util::Status::InvalidArgument("invalid data");
    }
    for (const Field& f : c.fields) {
      if (f.type == FieldType::kAutodate && f.BoolOption("onUpdate")) draft.values[f.name] = schema::NowDateTime();
    }
    const bool new_password = !draft.password.empty();
    if (new_password) {
      draft.values["password"] = hashed;
      draft.values["tokenKey"] = auth::RandomSecret(50);  // a new password ends every session
    }
    std::string sets;
    util::SqlParams params;
    boost::json::object changed;
    for (const Field& f : c.fields) {
      if (f.IsPrimaryKey()) continue;
      auto it = draft.values.find(f.name);
      if (it == draft.values.end()) continue;
      const bool secret = f.type == FieldType::kPassword || (c.type == CollectionType::kAuth && f.name == "tokenKey");
      if (secret ? !new_password : (*current)->at(f.name) == it->value()) continue;
      sets += sets.empty() ? "" : ", ";
      sets += Quote(f.name) + " = ?";
      params.push_back(schema::ToSqlValue(f, it->value()));
      if (!secret) changed[f.name] = it->value();
    }
    // Uploads the final values do not use are removed with the files they replace.
    std::vector<StagedFile> used = staged;
    DropUnused(used, draft.values);
    effects->obsolete.clear();
    for (const auto& file : staged) {
      if (std::none_of(used.begin(), used.end(), [&](const StagedFile& u) { return u.name == file.name; })) {
        effects->obsolete.push_back(FileKey(c.id, id, file.name));
      }
    }
    if (auto st = SyncFileRows(tx, c, id, used, &**current, draft.values, effects->obsolete); !st.ok()) return st;
    if (sets.empty()) return util::Status::Ok();
    if (auto st = CheckRelations(tx, *ctx.snapshot, c, changed, errors); !st.ok()) return st;
    if (!errors.empty()) return util::Status::InvalidArgument("invalid relations");
    params.emplace_back(id);
    auto r = tx.Exec(fmt::format("UPDATE {} SET {} WHERE `id` = ?", Quote(c.name), sets), params);
    if (!r) {
      UniqueError(c, r.error(), errors);
      return r.error();
    }
    return ReadWritten(tx, c, "`id` = ?", {id}, *written);
  };
  co_return op;
}

WriteOp PrepareDelete(Context ctx, RequestInfo info, std::string id) {
  const Collection& c = *ctx.collection;
  if (c.type == CollectionType::kView) throw http::ApiError::BadRequest("Unsupported collection type.");
  RequireRule(ctx, c.delete_rule);
  WriteOp op{OpKind::kDelete, ctx, info, id, {}};
  op.apply = [ctx, info, id, effects = op.files, written = op.written, cascaded = op.cascaded](
                 store::Tx& tx, boost::json::object&) -> util::Status {
    const Collection& c = *ctx.collection;
    auto allowed = RuleAllows(tx, c, id, RuleCondition(ctx, c.delete_rule, info));
    if (!allowed) return allowed.error();
    auto exists = tx.Query(fmt::format("SELECT 1 FROM {} WHERE `id` = ?", Quote(c.name)), {id});
    if (!exists) return exists.error();
    if (!*allowed || exists->rows.empty()) return util::Status::NotFound("no such record");
    effects->folders.clear();
    // The record as it was, for the delete event.
    if (auto st = ReadWritten(tx, c, "`id` = ?", {id}, *written); !st.ok()) return st;
    cascaded->clear();
    return DeleteWithReferences(tx, *ctx.snapshot, c, id, 0, effects->folders, *cascaded);
  };
  return op;
}

// Every record of `c` deleted as PocketBase's truncate does: one at a time in one transaction, each
// with its cascades and files, and a delete event for each.
WriteOp TruncateOp(Context ctx) {
  const Collection& c = *ctx.collection;
  if (c.type == CollectionType::kView) throw http::ApiError::BadRequest("View collections cannot be truncated.");
  WriteOp op{OpKind::kDelete, ctx, RequestInfo{}, "", {}};
  op.apply = [ctx, effects = op.files, cascaded = op.cascaded](store::Tx& tx, boost::json::object&) -> util::Status {
    const Collection& c = *ctx.collection;
    auto ids = tx.Query(fmt::format("SELECT `id` FROM {} ORDER BY rowid", Quote(c.name)), {});
    if (!ids) return ids.error();
    effects->folders.clear();
    cascaded->clear();
    for (const auto& row : ids->rows) {
      const auto* id = std::get_if<std::string>(&row[0]);
      if (!id) continue;
      std::optional<store::ResultSet> record;
      if (auto st = ReadWritten(tx, c, "`id` = ?", {*id}, record); !st.ok()) return st;
      if (!record) continue;  // gone with an earlier one's cascade
      if (auto st = DeleteWithReferences(tx, *ctx.snapshot, c, *id, 0, effects->folders, *cascaded); !st.ok()) {
        return st;
      }
      cascaded->push_back(ChangeOf("delete", c, *record));
    }
    return util::Status::Ok();
  };
  return op;
}

// What `ops` changed, for their events: for each, the records its cascades deleted or changed,
// then its own record.
std::vector<RecordChange> CommittedChanges(std::vector<WriteOp>& ops) {
  std::vector<RecordChange> changes;
  for (auto& op : ops) {
    for (auto& change : *op.cascaded) changes.push_back(std::move(change));
    if (!*op.written || (*op.written)->rows.empty()) continue;
    changes.push_back(ChangeOf(op.kind == OpKind::kCreate   ? "create"
                               : op.kind == OpKind::kUpdate ? "update"
                                                            : "delete",
                               *op.ctx.collection, **op.written));
  }
  return changes;
}

struct BatchOutcome {
  util::Status status;
  boost::json::object errors;
  std::size_t failed = 0;  // index of the operation that failed
};

// Applies `ops` in order in one transaction: all of them, or none.
net::awaitable<BatchOutcome> ApplyAll(store::Store& store, files::FileStore& fs, std::vector<WriteOp>& ops,
                                      const RecordChangeSink& on_change) {
  auto outcome = std::make_shared<BatchOutcome>();
  auto changes = std::make_shared<std::vector<RecordChange>>();
  outcome->status = co_await Await<util::Status>([&](std::function<void(util::Status)> done) {
    store.Write(
        [&ops, outcome, changes](store::Tx& tx) -> util::Status {
          for (std::size_t i = 0; i < ops.size(); ++i) {
            if (auto st = ops[i].apply(tx, outcome->errors); !st.ok()) {
              outcome->failed = i;
              return st;
            }
          }
          *changes = CommittedChanges(ops);
          return util::Status::Ok();
        },
        // Published in commit order, whichever threads their requests came on.
        PublishThen(on_change, changes, std::move(done)));
  });
  // Files follow the transaction's outcome, only once it is known.
  for (auto& op : ops) {
    if (outcome->status.ok()) {
      RemoveLater(fs, std::move(op.files->obsolete), std::move(op.files->folders));
    } else {
      RemoveLater(fs, std::move(op.files->written));
    }
  }
  co_return std::move(*outcome);
}

// The row an operation wrote (creates and updates), as stored when it was written.
store::ResultSet OpRow(store::Store& store, const WriteOp& op) {
  auto rs = *op.written ? std::move(*op.written) : FetchOne(store, *op.ctx.collection, op.id, Condition{"1", {}});
  if (!rs) throw http::ApiError::NotFound();
  return std::move(*rs);
}

// The record an operation wrote, as its response shows it (null for deletes).
boost::json::value OpResult(store::Store& store, const WriteOp& op) {
  if (op.kind == OpKind::kDelete) return nullptr;
  return Present(store, op.ctx, op.info, *op.ctx.collection, OpRow(store, op)).at(0);
}

// ---- response cache ----

// The Traits of a rule or filter, remembered per thread (rules are few and parsed often).
query::Traits TraitsOfText(const std::optional<std::string>& text) {
  if (!text || text->empty()) return {};
  thread_local std::unordered_map<std::string, query::Traits> memo;
  if (auto it = memo.find(*text); it != memo.end()) return it->second;
  if (memo.size() >= 4096) memo.clear();
  return memo.emplace(*text, query::TraitsOf(*text)).first->second;
}

void Merge(query::Traits& into, const query::Traits& t) {
  into.time = into.time || t.time;
  into.headers = into.headers || t.headers;
  into.auth = into.auth || t.auth;
}

// The Traits of every collection's list rule (`list`: a client's filter or sort reaches related
// records under theirs) or view rule (expanded records are shown under theirs), remembered per
// thread for the current snapshot.
query::Traits EveryRuleTraits(const schema::Snapshot& snap, bool list) {
  struct Memo {
    const schema::Snapshot* snap = nullptr;
    int64_t version = -1;
    query::Traits traits;
  };
  thread_local std::array<Memo, 2> memos;
  Memo& memo = memos[list ? 1 : 0];
  if (memo.snap != &snap || memo.version != snap.version()) {
    memo = {&snap, snap.version(), {}};
    for (const auto& c : snap.collections()) Merge(memo.traits, TraitsOfText(list ? c.list_rule : c.view_rule));
  }
  return memo.traits;
}

// The response cache key of a list ('L') or view ('V') request, or nullopt when its answer may
// not be kept or shared: it depends on the time (datetime macros), on request headers, or on
// chance (@random). The key holds the collection and schema version, the query string as sent and, when
// the answer depends on who asks, the requester: an answer is never shared between requesters
// the rules may treat differently.
std::optional<std::string> CacheKey(const http::Request& req, const Context& ctx,
                                    const std::optional<std::string>& rule, char kind) {
  const Collection& c = *ctx.collection;
  const auto sort = req.QueryParam("sort");
  if (sort && sort->find("@random") != std::string::npos) return std::nullopt;
  query::Traits traits = TraitsOfText(rule);
  const auto filter = req.QueryParam("filter");
  if (kind == 'L') Merge(traits, TraitsOfText(filter));
  const bool expands = req.QueryParam("expand").has_value();
  if (expands) Merge(traits, EveryRuleTraits(*ctx.snapshot, /*list=*/false));
  const bool related = kind == 'L' && !ctx.superuser() && ReadsRelations(req);
  if (related) Merge(traits, EveryRuleTraits(*ctx.snapshot, /*list=*/true));
  if (traits.time || traits.headers) return std::nullopt;
  std::string key;
  key.reserve(64 + req.query().size());
  key += kind;
  key += c.id;
  key += '\n';
  key += std::to_string(ctx.snapshot->version());
  key += '\n';
  // Email visibility on auth collections and the rules of expanded collections also depend on
  // who asks.
  const bool personal = traits.auth || expands || related || c.type == CollectionType::kAuth;
  if (ctx.auth && personal) {
    key += ctx.auth->superuser ? "su:" : "";
    key += ctx.auth->collection ? ctx.auth->collection->id : std::string();
    key += ':';
    key += ctx.auth->record_id;
  } else if (ctx.superuser()) {
    key += "su";
  }
  key += '\n';
  if (kind == 'V') {
    key += req.Param("id");
    key += '\n';
  }
  key += req.query();
  return key;
}

// A 200 answer with its entity tag and, for guests of a collection whose rule lets everyone in and
// that sets cacheMaxAge, a Cache-Control that lets shared caches keep it (an answer with a `key`
// is the same for every guest). A kept answer is compressed once for the clients that accept
// gzip, and that form is kept beside it.
http::Response Answer(const http::Request& req, const Context& ctx, const std::optional<std::string>& rule,
                      cache::CachedResponse r, cache::ResponseCache& cache, const std::optional<std::string>& key) {
  http::Response res{200, std::string(http::kJsonContentType), {}, {}, std::move(r.body)};
  const auto accept = req.Header("Accept-Encoding");
  if (key && cache.enabled() && accept && res.shared_body->size() >= http::kCompressMinBytes &&
      http::AcceptsGzip(*accept)) {
    if (!r.gzip) {
      if (auto gz = http::Gzip(*res.shared_body)) {
        r.gzip = std::make_shared<const std::string>(std::move(*gz));
        cache.SetGzip(*key, r.etag, r.gzip);
      }
    }
    if (r.gzip) {
      res.shared_body = std::move(r.gzip);
      res.headers.emplace_back("Content-Encoding", "gzip");
      r.etag = http::GzipETag(r.etag);
    }
  }
  res.headers.emplace_back("ETag", std::move(r.etag));
  // Only an answer that is the same for every guest (kept under a key without a requester, so no
  // headers, clock or expand in it) may be held by a shared cache.
  const int64_t max_age = ctx.collection->cache_max_age;
  if (max_age > 0 && rule && rule->empty() && !ctx.auth && key && !req.QueryParam("expand")) {
    res.headers.emplace_back("Cache-Control", fmt::format("public, max-age={}", max_age));
    res.headers.emplace_back("Vary", "Authorization");
  }
  return res;
}

// Answers with `body`, keeping it under `key` (when there is one) with the tables `reads` saw.
http::Response Keep(const http::Request& req, cache::ResponseCache& cache, const std::optional<std::string>& key,
                    store::ReadTracker& reads, const Context& ctx, const std::optional<std::string>& rule,
                    std::string body) {
  cache::CachedResponse r{.body = std::make_shared<const std::string>(std::move(body)), .etag = ""};
  r.etag = http::ETagOf(*r.body);
  if (key && cache.enabled()) {
    // Every answer also depends on the collection definitions (rules, fields): a change to them
    // ends it even before this instance's catalog has caught up.
    auto tables = reads.Tables();
    tables.emplace_back(schema::kCollectionsTable);
    cache.Put(*key, r, std::move(tables), reads.mark());
  }
  return Answer(req, ctx, rule, std::move(r), cache, key);
}

// The list endpoint's answer: one page of the records the list rule and the filter allow.
std::string ListRecords(http::Request& req, const Context& ctx, store::Store& store) {
  const RequestInfo info = MakeRequestInfo(req, ctx);
  const std::string filter = req.QueryParam("filter").value_or("");
  // The rule and the filter go into the one query: the database applies both.
  const Condition rule = RuleCondition(ctx, ctx.collection->list_rule, info);
  const Condition user_filter = FilterCondition(ctx, filter, info);
  const auto& c = *ctx.collection;
  // ?search=: full-text search over the searchable fields, ranked by relevance unless sorted.
  const Search search = SearchFor(c, req.QueryParam("search").value_or(""));
  std::string condition = "(" + rule.sql + ") AND (" + user_filter.sql + ")";
  util::SqlParams where_params;
  if (search.active()) {
    condition = search.match + " AND " + condition;
    where_params.push_back(search.query);
  }
  where_params.insert(where_params.end(), rule.params.begin(), rule.params.end());
  where_params.insert(where_params.end(), user_filter.params.begin(), user_filter.params.end());
  const std::string from = Quote(c.name) + search.join;
  // As PocketBase: a perPage of 0 or less is the default.
  const int64_t asked = IntParam(req, "perPage", kDefaultPerPage);
  const int64_t per_page = asked <= 0 ? kDefaultPerPage : std::min<int64_t>(asked, kMaxPerPage);
  const std::string sort = req.QueryParam("sort").value_or("");
  const auto cursor = req.QueryParam("cursor");
  if (cursor) {
    // Keyset pagination: the cost of a page does not depend on its depth.
    const auto terms = CursorTerms(c, sort, ctx.superuser());
    util::SqlParams params = where_params;
    std::string where = "(" + condition + ")";
    if (!cursor->empty()) where += " AND (" + AfterCursor(c, terms, *cursor, params) + ")";
    std::string order;
    for (const auto& t : terms) {
      order += order.empty() ? "" : ", ";
      order += Column(c, t.field->name) + (t.desc ? " DESC" : "");
    }
    params.emplace_back(per_page + 1);
    return ListJson(store, ctx, info, per_page, &terms,
                    fmt::format("SELECT {}.* FROM {} WHERE {} ORDER BY {} LIMIT ?", Quote(c.name), from, where, order),
                    params, [&](const Page& page) {
                      return boost::json::object{{"page", 1},
                                                 {"perPage", per_page},
                                                 {"totalItems", -1},
                                                 {"totalPages", -1},
                                                 {"nextCursor", page.more() ? boost::json::value(page.cursor())
                                                                            : boost::json::value(nullptr)}};
                    });
  }
  const int64_t page = std::max<int64_t>(1, IntParam(req, "page", 1));
  // As PocketBase (Go's strconv.ParseBool): 1 t T TRUE true True, 0 f F FALSE false False; else 400.
  const auto skip = req.QueryParam("skipTotal").value_or("");
  bool skip_total = false;
  if (skip == "1" || skip == "t" || skip == "T" || skip == "TRUE" || skip == "true" || skip == "True") {
    skip_total = true;
  } else if (!skip.empty() && skip != "0" && skip != "f" && skip != "F" && skip != "FALSE" && skip != "false" &&
             skip != "False") {
    throw http::ApiError::BadRequest(fmt::format("Invalid skipTotal {:?}.", skip));
  }
  const Condition sorted = OrderBy(ctx, info, sort);
  const std::string order =
      !sorted.sql.empty() ? sorted.sql : (search.active() ? search.rank : Quote(c.name) + ".rowid");
  util::SqlParams page_params = where_params;
  page_params.insert(page_params.end(), sorted.params.begin(), sorted.params.end());
  page_params.emplace_back(per_page);
  page_params.emplace_back((page - 1) * per_page);
  return ListJson(
      store, ctx, info, per_page, nullptr,
      fmt::format("SELECT {}.* FROM {} WHERE ({}) ORDER BY {} LIMIT ? OFFSET ?", Quote(c.name), from, condition, order),
      page_params, [&](const Page&) {
        int64_t total = -1;
        if (!skip_total) {
          // A count kept current across writes (the store checks only the rows each commit
          // changed), so that a list with its total does not walk every matching row on every
          // request. Not when the rule or filter reads the clock (the same query counts
          // differently later), nor with a search, which reads the search index too: those are
          // counted by a query, kept until a commit changes a table it reads unless it reads the
          // clock.
          const bool timed = TraitsOfText(c.list_rule).time || TraitsOfText(filter).time;
          if (!timed && !search.active()) {
            auto count = store.CountWhere(c.name, condition, where_params);
            if (!count) throw http::ApiError::Internal(count.error().ToString());
            total = *count;
          } else {
            const std::string count_sql = fmt::format("SELECT count(*) FROM {} WHERE ({})", from, condition);
            auto count = timed ? store.Query(count_sql, where_params) : store.QueryCached(count_sql, where_params);
            if (!count) throw http::ApiError::Internal(count.error().ToString());
            total = std::get<int64_t>(count->rows[0][0]);
          }
        }
        return boost::json::object{{"page", page},
                                   {"perPage", per_page},
                                   {"totalItems", total},
                                   {"totalPages", skip_total ? -1 : (total + per_page - 1) / per_page}};
      });
}

// The view endpoint's answer: the record, if the view rule allows it; 404 otherwise.
std::string ViewRecord(http::Request& req, const Context& ctx, store::Store& store) {
  const RequestInfo info = MakeRequestInfo(req, ctx);
  const Collection& c = *ctx.collection;
  const auto q = OneRecordQuery(c, req.Param("id"), RuleCondition(ctx, c.view_rule, info));
  std::string out;
  Page record(out, ctx, info, c, 1, nullptr, true);
  if (auto st = store.QueryRows(q.sql, q.params, record); !st.ok()) {
    throw http::ApiError::Internal(st.ToString());
  }
  if (record.count() == 0) throw http::ApiError::NotFound();
  record.Finish(store, info);
  return out;
}

}  // namespace

namespace {

// Whether the deleted `record` of `c` meets `condition`, asked of the database over that row in the
// table's place: a common table expression hides the table.
bool DeletedRecordMeets(store::Store& store, const Collection& c, const boost::json::object& record,
                        const Condition& condition) {
  if (condition.sql == "1" || condition.sql == "0") return condition.sql == "1";
  std::string columns, marks;
  util::SqlParams params;
  for (const Field& f : c.fields) {
    columns += columns.empty() ? Quote(f.name) : ", " + Quote(f.name);
    marks += marks.empty() ? "?" : ", ?";
    const auto it = record.find(f.name);
    params.push_back(it == record.end() ? util::SqlValue{} : schema::ToSqlValue(f, it->value()));
  }
  params.insert(params.end(), condition.params.begin(), condition.params.end());
  auto rs = store.Query(fmt::format("WITH {}({}) AS (VALUES ({})) SELECT 1 FROM {} WHERE ({}) LIMIT 1", Quote(c.name),
                                    columns, marks, Quote(c.name), condition.sql),
                        params);
  if (!rs) {
    spdlog::warn("a condition on {} cannot be asked of a deleted record: {}", c.name, rs.error().ToString());
    return false;
  }
  return !rs->rows.empty();
}

// A client's filter as a condition, or nullopt when it cannot be read (FilterCondition's 400).
std::optional<Condition> ClientFilter(const Context& ctx, const std::string& filter, const RequestInfo& info) {
  try {
    return FilterCondition(ctx, filter, info);
  } catch (const http::ApiError&) {
    return std::nullopt;
  }
}

}  // namespace

bool DeletedRecordPassesRule(store::Store& store, std::shared_ptr<const schema::Snapshot> snapshot,
                             const schema::Collection& c, const boost::json::object& record,
                             std::optional<AuthInfo> auth, const std::optional<std::string>& rule,
                             const RequestInfo& info) {
  const Context ctx{std::move(snapshot), &c, std::move(auth)};
  if (!rule && !ctx.superuser()) return false;
  return DeletedRecordMeets(store, c, record, RuleCondition(ctx, rule, info));
}

const char* SuperuserOnlyField(std::string_view text) {
  for (const char* field : {"@collection.", "@request."}) {
    if (text.find(field) != std::string_view::npos) return field;
  }
  return nullptr;
}

bool RecordPassesFilter(store::Store& store, std::shared_ptr<const schema::Snapshot> snapshot,
                        const schema::Collection& c, std::string_view id, std::optional<AuthInfo> auth,
                        const std::string& filter, const RequestInfo& info) {
  const Context ctx{std::move(snapshot), &c, std::move(auth)};
  const auto condition = ClientFilter(ctx, filter, info);
  return condition && FetchOne(store, c, id, *condition).has_value();
}

bool DeletedRecordPassesFilter(store::Store& store, std::shared_ptr<const schema::Snapshot> snapshot,
                               const schema::Collection& c, const boost::json::object& record,
                               std::optional<AuthInfo> auth, const std::string& filter, const RequestInfo& info) {
  const Context ctx{std::move(snapshot), &c, std::move(auth)};
  const auto condition = ClientFilter(ctx, filter, info);
  return condition && DeletedRecordMeets(store, c, record, *condition);
}

bool RecordPassesRule(store::Store& store, std::shared_ptr<const schema::Snapshot> snapshot,
                      const schema::Collection& c, std::string_view id, std::optional<AuthInfo> auth,
                      const std::optional<std::string>& rule, const RequestInfo& info) {
  const Context ctx{std::move(snapshot), &c, std::move(auth)};
  if (!rule && !ctx.superuser()) return false;
  return FetchOne(store, c, id, RuleCondition(ctx, rule, info)).has_value();
}

std::optional<boost::json::value> PresentRecord(store::Store& store, std::shared_ptr<const schema::Snapshot> snapshot,
                                                const schema::Collection& c, std::string_view id,
                                                std::optional<AuthInfo> auth, const RequestInfo& info) {
  const Context ctx{std::move(snapshot), &c, std::move(auth)};
  auto rs = FetchOne(store, c, id, Condition{"1", {}});
  if (!rs) return std::nullopt;
  return Present(store, ctx, info, c, *rs).at(0);
}

bool CanViewRecord(const http::Request& req, std::shared_ptr<const schema::Snapshot> snapshot,
                   const schema::Collection& c, std::string_view id, std::optional<AuthInfo> auth,
                   store::Store& store) {
  const Context ctx{std::move(snapshot), &c, std::move(auth)};
  if (!c.view_rule && !ctx.superuser()) return false;
  const RequestInfo info = MakeRequestInfo(req, ctx);
  return FetchOne(store, c, id, RuleCondition(ctx, c.view_rule, info)).has_value();
}

void AddRecordRoutes(http::Router& router, store::Store& store, schema::Catalog& catalog, auth::TokenService& tokens,
                     cache::ResponseCache& cache, files::FileStore& files, RateLimits* limits,
                     RecordChangeSink on_change) {
  // A read endpoint: its kept answer when there is one still current, else built by `build`
  // (ListRecords or ViewRecord) and kept. `kind` tells the two apart in the cache key.
  auto cached_read = [&](char kind, std::optional<std::string> schema::Collection::*rule_of,
                         std::string (*build)(http::Request&, const Context&, store::Store&)) {
    return [&, kind, rule_of, build](http::Request& req) -> net::awaitable<http::Response> {
      store::ReadTracker reads(store);
      Context ctx = Resolve(req, catalog, store, tokens);
      const auto& rule = ctx.collection->*rule_of;
      RequireRule(ctx, rule);
      if (kind == 'L') RequireSuperuserForRequestFields(req, ctx);
      // A key when the answer may be kept, or held by shared caches (Cache-Control).
      const bool may_share = cache.enabled() || (ctx.collection->cache_max_age > 0 && !ctx.auth);
      const auto key = may_share ? CacheKey(req, ctx, rule, kind) : std::nullopt;
      if (key && cache.enabled()) {
        if (auto hit = cache.Get(*key)) co_return Answer(req, ctx, rule, std::move(*hit), cache, key);
      }
      co_return Keep(req, cache, key, reads, ctx, rule, build(req, ctx, store));
    };
  };
  router.Add(http::Verb::kGet, "/api/collections/{collection}/records",
             cached_read('L', &schema::Collection::list_rule, &ListRecords), {.tags = "list"});
  router.Add(http::Verb::kGet, "/api/collections/{collection}/records/{id}",
             cached_read('V', &schema::Collection::view_rule, &ViewRecord), {.tags = "view"});

  // One operation: prepare, apply in its own transaction, answer with the stored record.
  auto run_one = [&store, &files, on_change](WriteOp op) -> net::awaitable<http::Response> {
    std::vector<WriteOp> ops;
    ops.push_back(std::move(op));
    auto outcome = co_await ApplyAll(store, files, ops, on_change);
    if (!outcome.status.ok()) throw OpError(ops[0].kind, outcome.status, std::move(outcome.errors));
    if (ops[0].kind == OpKind::kDelete) co_return http::Response{204, "", "", {}};
    const WriteOp& done = ops[0];
    co_return http::Response::Json(
        200, PresentText(store, done.ctx, done.info, *done.ctx.collection, OpRow(store, done), true));
  };

  auto body_info = [](const http::Request& req, const Context& ctx) {
    if (!req.json().is_object()) throw http::ApiError::BadRequest("Failed to read the submitted data.");
    return MakeRequestInfo(req, ctx);
  };

  // Room for the collection's files: a larger upload is refused (413) before its body is read.
  auto upload_limit = [&catalog](const http::Request& req) -> std::size_t {
    const auto snapshot = catalog.Current();
    const Collection* c = snapshot->Find(req.Param("collection"));
    return c ? UploadBodyLimit(*c) : http::kDefaultBodyLimit;
  };
  auto part_limits = [&catalog](const http::Request& req) -> http::MultipartLimits {
    const auto snapshot = catalog.Current();
    const Collection* c = snapshot->Find(req.Param("collection"));
    return c ? UploadPartLimits(*c) : http::MultipartLimits{};
  };

  router.Add(http::Verb::kPost, "/api/collections/{collection}/records",
             [&, run_one, body_info](http::Request& req) -> net::awaitable<http::Response> {
               Context ctx = Resolve(req, catalog, store, tokens);
               RequestInfo info = body_info(req, ctx);
               WriteOp op = co_await PrepareCreate(ctx, std::move(info), files, req.files());
               co_return co_await run_one(std::move(op));
             },
             {.json_body = true,
              .files = true,
              .upload_limits = part_limits,
              .body_limit_of = upload_limit,
              .tags = "create"});

  router.Add(http::Verb::kPatch, "/api/collections/{collection}/records/{id}",
             [&, run_one, body_info](http::Request& req) -> net::awaitable<http::Response> {
               Context ctx = Resolve(req, catalog, store, tokens);
               RequestInfo info = body_info(req, ctx);
               WriteOp op = co_await PrepareUpdate(store, ctx, std::move(info), req.Param("id"), files, req.files());
               co_return co_await run_one(std::move(op));
             },
             {.json_body = true,
              .files = true,
              .upload_limits = part_limits,
              .body_limit_of = upload_limit,
              .tags = "update"});

  router.Add(http::Verb::kDelete, "/api/collections/{collection}/records/{id}",
             [&, run_one](http::Request& req) -> net::awaitable<http::Response> {
               Context ctx = Resolve(req, catalog, store, tokens);
               WriteOp op = PrepareDelete(ctx, MakeRequestInfo(req, ctx), req.Param("id"));
               co_return co_await run_one(std::move(op));
             },
             {.tags = "delete"});

  // DELETE /api/collections/{collection}/truncate (superusers): every record deleted as by one
  // request each, cascades, files and events included, in one transaction.
  router.Add(http::Verb::kDelete, "/api/collections/{collection}/truncate",
             [&, on_change](http::Request& req) -> net::awaitable<http::Response> {
               RequireSuperuser(req, catalog, store, tokens);
               Context ctx = Resolve(req, catalog, store, tokens);
               std::vector<WriteOp> ops;
               ops.push_back(TruncateOp(std::move(ctx)));
               auto outcome = co_await ApplyAll(store, files, ops, on_change);
               if (!outcome.status.ok()) {
                 if (outcome.status.code() == util::Status::Code::kInvalidArgument) {
                   throw http::ApiError::BadRequest(outcome.status.message());
                 }
                 throw http::ApiError::Internal(outcome.status.ToString());
               }
               co_return http::Response{204, "", "", {}};
             });

  // POST /api/batch: record creates, updates, upserts and deletes in one transaction.
  router.Add(
      http::Verb::kPost, "/api/batch",
      [&, limits, on_change](http::Request& req) -> net::awaitable<http::Response> {
        if (!req.json().is_object() || !req.json().as_object().contains("requests") ||
            !req.json().as_object().at("requests").is_array()) {
          throw ValidationError(
              "Failed to read the submitted data.",
              {{"requests", boost::json::object{{"code", "validation_required"}, {"message", "Cannot be blank."}}}});
        }
        const auto& requests = req.json().as_object().at("requests").as_array();
        // As PocketBase, each request is checked before any runs: a method it knows, a URL.
        if (requests.empty()) {
          throw ValidationError(
              "Invalid batch request data.",
              {{"requests", boost::json::object{{"code", "validation_required"}, {"message", "Cannot be blank."}}}});
        }
        boost::json::object invalid;
        for (std::size_t i = 0; i < requests.size() && i <= kMaxBatchRequests; ++i) {
          const auto* item = requests[i].if_object();
          const auto* method = item ? item->if_contains("method") : nullptr;
          const auto* url = item ? item->if_contains("url") : nullptr;
          boost::json::object errors;
          if (!method || !method->is_string() || method->as_string().empty()) {
            errors["method"] = boost::json::object{{"code", "validation_required"}, {"message", "Cannot be blank."}};
          } else if (const std::string_view m = method->as_string();
                     m != "GET" && m != "POST" && m != "PUT" && m != "PATCH" && m != "DELETE") {
            errors["method"] =
                boost::json::object{{"code", "validation_in_invalid"}, {"message", "Must be a valid value."}};
          }
          if (!url || !url->is_string() || url->as_string().empty()) {
            errors["url"] = boost::json::object{{"code", "validation_required"}, {"message", "Cannot be blank."}};
          } else if (url->as_string().size() > 2000) {
            errors["url"] = boost::json::object{{"code", "validation_length_out_of_range"},
                                                {"message", "The length must be between 0 and 2000."}};
          }
          if (!errors.empty()) invalid[std::to_string(i)] = std::move(errors);
        }
        if (!invalid.empty() && requests.size() <= kMaxBatchRequests) {
          throw ValidationError("Invalid batch request data.", {{"requests", std::move(invalid)}});
        }
        if (requests.size() > kMaxBatchRequests) {
          throw ValidationError(
              "Failed to read the submitted data.",
              {{"requests", boost::json::object{{"code", "validation_length_too_long"},
                                                {"message", fmt::format("The batch can have at most {} requests.",
                                                                        kMaxBatchRequests)}}}});
        }
        auto snapshot = catalog.Current();
        auto auth_info = Authenticate(req, snapshot, store, tokens);
        std::vector<WriteOp> ops;
        auto fail = [](std::size_t i, const http::ApiError& e) {
          boost::json::object response = boost::json::parse(e.ToResponse().body).as_object();
          return ValidationError(
              "Batch transaction failed.",
              {{"requests",
                boost::json::object{{std::to_string(i), boost::json::object{{"code", "batch_request_failed"},
                                                                            {"message", "Batch request failed."},
                                                                            {"response", response}}}}}});
        };
        // A request that fails before the transaction: the files the ones before it wrote go.
        auto discard_prepared = [&] {
          for (auto& op : ops) RemoveLater(files, std::move(op.files->written));
        };
        for (std::size_t i = 0; i < requests.size(); ++i) {
          try {
            if (!requests[i].is_object()) throw http::ApiError::BadRequest("Invalid batch request.");
            const auto& r = requests[i].as_object();
            auto text = [&](const char* key) -> std::string {
              auto it = r.find(key);
              return it != r.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
            };
            std::string method = text("method");
            for (auto& ch : method) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            const std::string url = text("url");
            const auto qpos = url.find('?');
            const std::string path = url.substr(0, qpos);
            // /api/collections/{collection}/records[/{id}]
            constexpr std::string_view kPrefix = "/api/collections/";
            if (!path.starts_with(kPrefix)) throw http::ApiError::BadRequest("Unsupported batch request.");
            std::string_view rest = std::string_view(path).substr(kPrefix.size());
            const auto slash = rest.find('/');
            if (slash == std::string_view::npos) throw http::ApiError::BadRequest("Unsupported batch request.");
            const std::string collection = http::PercentDecode(rest.substr(0, slash));
            rest = rest.substr(slash + 1);
            std::string id;
            if (rest.starts_with("records/")) {
              id = http::PercentDecode(rest.substr(8));
            } else if (rest != "records") {
              throw http::ApiError::BadRequest("Unsupported batch request.");
            }
            Context ctx;
            ctx.snapshot = snapshot;
            ctx.collection = snapshot->Find(collection);
            if (!ctx.collection) throw http::ApiError::NotFound("Missing collection context.");
            ctx.auth = auth_info;
            RequestInfo info;
            if (ctx.auth) info.auth = ctx.auth->record;
            info.method = method;
            if (auto b = r.find("body"); b != r.end() && b->value().is_object()) info.body = b->value().as_object();
            // @request.headers: the batch request's, with the item's own "headers" over them.
            auto add_header = [&](std::string name, boost::json::value value) {
              for (auto& ch : name)
                ch = ch == '-' ? '_' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
              info.headers[name] = std::move(value);
            };
            for (auto& [k, v] : req.Headers()) add_header(k, boost::json::value(v));
            if (auto h = r.find("headers"); h != r.end() && h->value().is_object()) {
              for (const auto& [k, v] : h->value().as_object()) {
                if (v.is_string()) add_header(std::string(k), v);
              }
            }
            if (qpos != std::string::npos) {
              std::string_view q = std::string_view(url).substr(qpos + 1);
              while (!q.empty()) {
                const auto amp = q.find('&');
                const std::string_view pair = q.substr(0, amp);
                q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
                const auto eq = pair.find('=');
                info.query[http::PercentDecode(pair.substr(0, eq))] =
                    eq == std::string_view::npos ? std::string() : http::PercentDecode(pair.substr(eq + 1));
              }
            }
            const std::vector<http::UploadedFile> uploads = BatchItemFiles(req.files(), i);
            if (limits) {
              const char* action = method == "DELETE" ? "delete" : method == "PATCH" ? "update" : "create";
              limits->CheckAction(req, *ctx.collection, action);
              if (!uploads.empty()) limits->CheckAction(req, *ctx.collection, "upload");
            }
            if (method == "POST" && id.empty()) {
              ops.push_back(co_await PrepareCreate(ctx, std::move(info), files, uploads));
            } else if (method == "PUT" && id.empty()) {
              // Upsert: update when the body's id exists, create otherwise.
              auto body_id = info.body.find("id");
              std::string existing;
              if (body_id != info.body.end() && body_id->value().is_string())
                existing = std::string(body_id->value().as_string());
              if (!existing.empty() && FetchOne(store, *ctx.collection, existing, Condition{"1", {}})) {
                ops.push_back(co_await PrepareUpdate(store, ctx, std::move(info), existing, files, uploads));
              } else {
                ops.push_back(co_await PrepareCreate(ctx, std::move(info), files, uploads));
              }
            } else if (method == "PATCH" && !id.empty()) {
              ops.push_back(co_await PrepareUpdate(store, ctx, std::move(info), id, files, uploads));
            } else if (method == "DELETE" && !id.empty()) {
              ops.push_back(PrepareDelete(ctx, std::move(info), id));
            } else {
              throw http::ApiError::BadRequest("Unsupported batch request.");
            }
          } catch (const http::ApiError& e) {
            discard_prepared();
            throw fail(i, e);
          } catch (...) {
            discard_prepared();
            throw;
          }
        }
        auto outcome = co_await ApplyAll(store, files, ops, on_change);
        if (!outcome.status.ok()) {
          throw fail(outcome.failed, OpError(ops[outcome.failed].kind, outcome.status, std::move(outcome.errors)));
        }
        boost::json::array results;
        for (const auto& op : ops) {
          results.push_back(
              boost::json::object{{"status", op.kind == OpKind::kDelete ? 204 : 200}, {"body", OpResult(store, op)}});
        }
        co_return http::Response::Json(200, boost::json::serialize(results));
      },
      {.json_body = true,
       .files = true,
       .upload_limits = [&catalog](const http::Request&) { return BatchPartLimits(*catalog.Current()); },
       // Files come only in multipart bodies, which are streamed; a JSON batch is read whole.
       .body_limit_of =
           [&catalog](const http::Request& req) {
             const auto ct = req.Header("Content-Type");
             return ct && http::MultipartBoundary(*ct) ? BatchBodyLimit(*catalog.Current())
                                                       : 8 * http::kDefaultBodyLimit;
           }});
}

}  // namespace strata::api
