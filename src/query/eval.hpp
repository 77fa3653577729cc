// In-memory evaluation of a filter against one record and request, with the semantics of the SQL
// that BuildSql produces for SQLite (type affinity, NULL vs '', LIKE, any-of and all-items over
// multi-valued fields), so that realtime can decide who receives an event without a query.
// Stateless apart from the resolver passed in; thread-safe for distinct resolvers.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <optional>
#include <string_view>

#include "query/ast.hpp"
#include "util/status.hpp"

namespace strata::query {

// Where a resolved value comes from, which decides how SQLite would compare it.
enum class ValueSource : uint8_t {
  kColumn,      // a stored column: text compares as TEXT affinity, numbers and booleans as NUMERIC,
                // JSON arrays and objects as the NUMERIC affinity of a JSON column
  kExpression,  // computed from columns (`:lower`, `:length`, a JSON path): no affinity
  kParameter,   // a value bound as a parameter (@request.*): no affinity, and PocketBase's
                // rules for known-empty and non-empty values apply
};

// What a ValueResolver makes of one identifier; mirrors ResolvedField of query/sql.hpp.
struct ResolvedValue {
  boost::json::value value;
  // The value is an array whose items are compared (any item for ?= operators, every item for the
  // others); a non-array counts as one item, an empty array as one NULL item.
  bool multi = false;
  ValueSource source = ValueSource::kColumn;
  NullFallback null_fallback = NullFallback::kAuto;
};

// Resolves identifiers for one evaluation. Implementations need not be thread-safe.
class ValueResolver {
 public:
  virtual ~ValueResolver() = default;
  // Resolves `identifier` as written in the filter, modifier included. Returns its value, or
  // InvalidArgument for an unknown identifier (other codes are passed through unchanged).
  virtual util::Result<ResolvedValue> Resolve(std::string_view identifier) = 0;
};

struct EvalOptions {
  // The clock of the datetime macros and of strftime's 'now'; the current time when unset.
  std::optional<std::chrono::system_clock::time_point> now;
};

// Evaluates `expr`. Returns whether the record matches (SQL's NULL counts as no match), or
// InvalidArgument naming the position of an identifier the resolver refused or of a strftime
// modifier the evaluator does not implement.
util::Result<bool> Evaluate(const Expr& expr, ValueResolver& resolver, const EvalOptions& options = {});

}  // namespace strata::query
