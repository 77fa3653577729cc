// The syntax tree of PocketBase's filter language (the fexpr grammar): comparisons
// `operand op operand` joined with && and || (&& binds tighter) and grouped by parentheses.
// Plain value types; immutable once parsed and safe to share between threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::query {

// Comparison operators. The kAny* forms are PocketBase's `?=`-style "any/at least one of".
enum class Op : uint8_t {
  kEq,
  kNeq,
  kLike,
  kNotLike,
  kLt,
  kLte,
  kGt,
  kGte,
  kAnyEq,
  kAnyNeq,
  kAnyLike,
  kAnyNotLike,
  kAnyLt,
  kAnyLte,
  kAnyGt,
  kAnyGte,
};

// The operator as written in a filter ("=", "?!~", ...).
std::string_view OpText(Op op);
bool IsAnyOf(Op op);
// The operator without its any-of marker (kAnyLike → kLike); other operators unchanged.
Op BaseOp(Op op);

enum class Function : uint8_t {
  kGeoDistance,  // geoDistance(lonA, latA, lonB, latB): haversine distance in kilometres
  kStrftime,     // strftime(format, [time-value, modifier...]): SQLite's strftime
};
std::string_view FunctionName(Function f);

struct Operand {
  enum class Kind : uint8_t {
    kIdentifier,  // a field or placeholder: `title`, `author.name`, `@request.auth.id`, `tags:each`
    kMacro,       // a datetime macro: `@now`, `@todayStart`, ... (text is its name)
    kText,        // a quoted string, unescaped
    kNumber,      // a number literal (text keeps it as written)
    kNull,
    kTrue,
    kFalse,
    kFunction,  // a call of `function` with `args`
  };
  Kind kind = Kind::kNull;
  std::string text;
  double number = 0;          // kNumber
  Function function{};        // kFunction
  std::vector<Operand> args;  // kFunction
  uint32_t pos = 0;           // 1-based character position in the filter, for error messages
};

struct Comparison {
  Operand left;
  Op op = Op::kEq;
  Operand right;
};

struct Expr {
  enum class Kind : uint8_t { kComparison, kAnd, kOr };
  Kind kind = Kind::kComparison;
  Comparison comparison;       // kComparison
  std::vector<Expr> children;  // kAnd, kOr: two or more, in filter order
};

// The filter in a canonical form: groups in parentheses, texts in whichever quote needs fewer
// escapes. Parsing the result gives an equal tree, except for a text that ends with a backslash
// (which fexpr's quoting cannot express).
std::string ToString(const Expr& expr);
std::string ToString(const Operand& operand);

// Splits an identifier into its name and its `:modifier` (after the last ':'; empty if none):
// "tags:each" → {"tags", "each"}; "@collection.users:auth.email" → {"@collection.users:auth.email", ""}
// when the text after the last ':' contains a '.'.
std::pair<std::string_view, std::string_view> SplitModifier(std::string_view identifier);

// How PocketBase's `=` and `!=` treat NULL against the empty string for an operand:
// kAuto: NULL and '' are the same (a = '' matches NULL); kDisabled: compare with SQL's IS / IS NOT
// as they are (JSON values, geoDistance); kEnforced: always COALESCE (strftime results).
enum class NullFallback : uint8_t { kAuto, kDisabled, kEnforced };

// What a filter's outcome depends on besides the records it reads, for deciding whether an
// answer built with it may be kept and shared.
struct Traits {
  bool time = false;     // datetime macros (@now, @todayStart, …) or strftime() of the current time
  bool headers = false;  // @request.headers.*
  bool auth = false;     // @request.auth.*
};
Traits TraitsOf(const Expr& expr);

}  // namespace strata::query
