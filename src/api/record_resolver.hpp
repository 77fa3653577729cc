// Resolves the identifiers of filters and API rules over a collection's records for the filter
// language's SQL builder: fields, relations and back-relations (nested), JSON paths, @collection
// joins and the @request.* values of the current request. Identifiers are checked against the
// collection schema; only SQL written here reaches the query text. One resolver per build; not
// thread-safe.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "query/sql.hpp"
#include "schema/catalog.hpp"

namespace strata::api {

inline constexpr int kMaxRelationDepth = 6;

// What a rule or filter may know about the request.
struct RequestInfo {
  boost::json::value auth = nullptr;  // the requester's record (with collectionId/collectionName), or null
  boost::json::object body;           // the submitted data (create and update rules)
  boost::json::object query;          // query parameters
  boost::json::object headers;        // lower-case names, '-' as '_'
  std::string method;                 // "GET", "POST", …
  std::string context = "default";
  const boost::json::object* current = nullptr;  // the stored record, for :changed
};

class RecordFieldResolver final : public query::FieldResolver {
 public:
  // Resolves over `collection`, whose table is referenced as `table_alias` in the caller's query.
  RecordFieldResolver(const schema::Snapshot& snapshot, const schema::Collection& collection, std::string table_alias,
                      const RequestInfo& request)
      : snapshot_(snapshot), collection_(collection), alias_(std::move(table_alias)), request_(request) {}

  // For a client's own filter (not a rule), unless the client is a superuser: hidden fields are
  // refused, and an auth record's email can be matched only where emailVisibility shows it.
  void ForClient() { client_ = true; }

  util::Result<query::ResolvedField> Resolve(std::string_view identifier) override;
  // A geoPoint field of the collection itself ("location.lon", "location.lat"): its R*Tree.
  std::optional<query::SqlFragment> GeoWithin(std::string_view lon, std::string_view lat, double target_lon,
                                              double target_lat, double km) override;

 private:
  util::Result<query::ResolvedField> ResolveRequest(std::string_view path, std::string_view modifier);
  util::Result<query::ResolvedField> ResolvePath(const schema::Collection& c, const std::string& alias,
                                                 std::string_view path, std::string_view modifier, int depth);
  std::string NextAlias() { return alias_prefix_ + std::to_string(++alias_counter_); }
  // For a client's filter, the condition on the rows of `target` (as `alias`) that a relation
  // reaches: its list rule, as PocketBase; refused when only superusers may list it.
  util::Result<query::SqlFragment> RowsAllowed(const schema::Collection& target, const std::string& alias);

  const schema::Snapshot& snapshot_;
  const schema::Collection& collection_;
  std::string alias_;
  const RequestInfo& request_;
  int alias_counter_ = 0;
  std::map<std::string, std::string> collection_aliases_;  // "@collection.NAME[:ALIAS]" → its SQL alias
  bool client_ = false;
  std::string alias_prefix_ = "__s";  // of the aliases NextAlias makes (a nested rule's own)
};

}  // namespace strata::api
