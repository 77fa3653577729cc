// SQL for a filter: the WHERE expression PocketBase builds for it, in the SQLite or PostgreSQL
// dialect. Every value in the filter becomes a bound parameter; every identifier goes through a
// caller-supplied FieldResolver (an allow-list) and only the resolver's own SQL reaches the text.
// Building is stateless apart from the resolver passed in; thread-safe for distinct resolvers.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "query/ast.hpp"
#include "util/sql_value.hpp"
#include "util/status.hpp"

namespace strata::query {

enum class Dialect : uint8_t { kSqlite, kPostgres };

// A piece of SQL written by trusted code (a resolver), with its values kept out of the text: the
// builder turns each bound value into a placeholder of the target dialect. A plain value type.
class SqlFragment {
 public:
  SqlFragment() = default;
  explicit SqlFragment(std::string_view trusted_sql) { Append(trusted_sql); }

  // Appends SQL text as it is. Never pass user input here: bind it.
  SqlFragment& Append(std::string_view trusted_sql);
  // Appends a placeholder bound to `value`.
  SqlFragment& Bind(util::SqlValue value);
  SqlFragment& Append(const SqlFragment& other);

  struct Piece {
    bool is_value = false;
    std::string text;      // !is_value
    util::SqlValue value;  // is_value
  };
  const std::vector<Piece>& pieces() const { return pieces_; }
  bool empty() const { return pieces_.empty(); }

 private:
  std::vector<Piece> pieces_;
};

// `name` as a double-quoted SQL identifier (both dialects), quotes inside doubled.
std::string QuoteIdentifier(std::string_view name);

// The SQL type of a resolved expression. PostgreSQL needs it to compare mismatched types the way
// SQLite's type affinity does (a text column against a number, a boolean against 1); SQLite ignores it.
enum class SqlType : uint8_t { kAny, kText, kNumber, kBool };

// What a FieldResolver makes of one identifier.
struct ResolvedField {
  enum class Kind : uint8_t {
    kSql,    // `sql`: an expression the resolver built (a column, possibly through joins it records
             // for its caller); for SQLite a column keeps its type affinity in comparisons
    kValue,  // `value`: known at build time (@request.* placeholders), bound as a parameter
  };
  Kind kind = Kind::kSql;
  SqlFragment sql;
  boost::json::value value;
  // Multi-valued: `sql` yields a JSON array (SQLite: JSON text; PostgreSQL: jsonb) or `value` is an
  // array, and comparisons apply to the items: any item for the ?= operators, every item for the
  // others (PocketBase's `:each`, multiple relations, @collection). PocketBase compares a plain
  // `tags` (no modifier) as its JSON text: such a field is not multi-valued.
  bool multi = false;
  SqlType type = SqlType::kAny;  // of `sql`, or of each item when multi (PostgreSQL items default to text)
  NullFallback null_fallback = NullFallback::kAuto;
  // A multi-valued field of every row of another collection (PocketBase's @collection.name.field):
  // those rows (`rows`, "table AS alias"), the field of one of them (`row_item`), and what names
  // them (`rows_key`). Comparisons with ?-operators on one `rows_key` that an && joins must hold on
  // the same row, as over PocketBase's single join of that collection. Empty: not such a field.
  std::string rows_key;
  SqlFragment rows;
  SqlFragment row_item;

  static ResolvedField Sql(SqlFragment sql, SqlType type = SqlType::kAny, bool multi = false,
                           NullFallback null_fallback = NullFallback::kAuto);
  static ResolvedField Value(boost::json::value value, bool multi = false);
};

// Resolves identifiers for one build. Implementations need not be thread-safe.
class FieldResolver {
 public:
  virtual ~FieldResolver() = default;
  // Resolves `identifier` as written in the filter, modifier included ("tags:each", "title:lower",
  // "@request.body.role:isset"). Returns the field, or InvalidArgument naming an unknown or
  // forbidden identifier (other codes are passed through to the caller unchanged).
  virtual util::Result<ResolvedField> Resolve(std::string_view identifier) = 0;

  // For `geoDistance(lon, lat, LON, LAT) < KM` (or <=, or with the two points swapped) where `lon`
  // and `lat` are identifiers and the rest are numbers: a condition that holds for every row whose
  // point lies within `km` kilometres of (LON, LAT) and that the database can answer from an index.
  // The builder adds it beside the exact distance test, which still decides. Default: none.
  virtual std::optional<SqlFragment> GeoWithin(std::string_view lon, std::string_view lat, double target_lon,
                                               double target_lat, double km) {
    (void)lon, (void)lat, (void)target_lon, (void)target_lat, (void)km;
    return std::nullopt;
  }
};

// The box of longitudes and latitudes (degrees) that holds every point within `km` kilometres of
// (lon, lat) on the sphere of geoDistance, or nullopt when it spans a pole or the antimeridian
// (no useful box). For index prefilters.
struct GeoBox {
  double min_lon, max_lon, min_lat, max_lat;
};
std::optional<GeoBox> GeoBoundingBox(double lon, double lat, double km);

struct Sql {
  std::string text;        // a boolean SQL expression, for a WHERE clause
  util::SqlParams params;  // in placeholder order
};

struct SqlOptions {
  Dialect dialect = Dialect::kSqlite;
  // PostgreSQL: the number of the first placeholder ($N), when SQL around the filter binds earlier.
  std::size_t first_param = 1;
  // The clock of the datetime macros (@now, @todayStart, ...); the current time when unset.
  std::optional<std::chrono::system_clock::time_point> now;
};

// Builds the SQL of a parsed filter. Returns it, or InvalidArgument naming the position of an
// identifier the resolver refused or of a construct the dialect cannot express, or the resolver's
// own non-InvalidArgument error. Work is linear in the size of the tree.
util::Result<Sql> BuildSql(const Expr& expr, FieldResolver& resolver, const SqlOptions& options = {});
// Parse(filter) then BuildSql.
util::Result<Sql> BuildSql(std::string_view filter, FieldResolver& resolver, const SqlOptions& options = {});
// The SQLite SQL of `filter` as a fragment (its values bound), to be placed inside other SQL a
// resolver builds (a related collection's rule in the subquery that reads it).
util::Result<SqlFragment> BuildSqlFragment(std::string_view filter, FieldResolver& resolver);

}  // namespace strata::query
