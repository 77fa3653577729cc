// Internal to src/query: the SQLite semantics that the SQL builder relies on and the in-memory
// evaluator reproduces (type affinity in comparisons, LIKE, number text), and PocketBase's rules
// for `=`/`!=` against NULL and for LIKE patterns. Shared so the two can never drift apart.
// Stateless functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "query/ast.hpp"

namespace strata::query::internal {

// ---- SQLite values ----

enum class Affinity : uint8_t { kNone, kText, kNumeric };

// A SQLite value with the affinity of the column it was read from (kNone for expressions and
// bound parameters).
struct Val {
  enum class Type : uint8_t { kNull, kInt, kReal, kText };
  Type type = Type::kNull;
  int64_t i = 0;
  double r = 0;
  std::string s;
  Affinity affinity = Affinity::kNone;

  static Val Null() { return {}; }
  static Val Int(int64_t v) {
    Val x;
    x.type = Type::kInt;
    x.i = v;
    return x;
  }
  static Val Real(double v);  // NaN is NULL, as in SQLite
  static Val Text(std::string v) {
    Val x;
    x.type = Type::kText;
    x.s = std::move(v);
    return x;
  }
  bool is_null() const { return type == Type::kNull; }
  bool is_number() const { return type == Type::kInt || type == Type::kReal; }
  double AsDouble() const { return type == Type::kInt ? static_cast<double>(i) : r; }
};

// SQL's three-valued logic.
enum class Tri : uint8_t { kFalse, kTrue, kNull };
inline Tri Not(Tri t) { return t == Tri::kNull ? t : (t == Tri::kTrue ? Tri::kFalse : Tri::kTrue); }
inline Tri FromBool(bool b) { return b ? Tri::kTrue : Tri::kFalse; }

// SQLite's text for a REAL ("%!.15g": 5.0 → "5.0", 1e20 → "1.0e+20").
std::string SqliteRealText(double v);
// The text SQLite gives a value (numbers as SQLite prints them); nullopt for NULL.
std::optional<std::string> SqliteText(const Val& v);
// NUMERIC affinity on text: the number when the whole text (spaces allowed around) is one.
std::optional<Val> SqliteNumeric(std::string_view text);
// Go's strconv.FormatFloat(v, 'f', -1, 64), which PocketBase uses to turn numbers into text.
std::string GoFloatText(double v);

// Compares as SQLite's comparison operators do, applying the operands' affinities first.
// Returns <0, 0 or >0; nullopt when either side is NULL.
std::optional<int> SqliteCompare(Val a, Val b);
// SQLite's `a IS b` (NULL-safe equality, with affinities).
bool SqliteIs(const Val& a, const Val& b);
// SQLite's `text LIKE pattern ESCAPE '\'`: ASCII case-insensitive, `%` any run, `_` one character.
// Linear in the text for each `%` in the pattern (no exponential backtracking).
bool SqliteLike(std::string_view text, std::string_view pattern);
// Whether the pattern ends with an escape character that escapes nothing (SQLite: never matches;
// PostgreSQL: an error).
bool HasDanglingEscape(std::string_view pattern);

// ---- PocketBase's rules ----

// PocketBase's wrapLikeParams: a value without an unescaped '%' has its '\', '%' and '_' escaped and
// is wrapped in '%' ("contains"); a value with one is used as the pattern as it is.
std::string WrapLikeValue(std::string_view value);

// What an operand is, for PocketBase's equality rules.
enum class Shape : uint8_t {
  kExpression,  // a column or computed expression: its emptiness is unknown
  kNull,        // the null literal or a resolved NULL
  kBool,        // true / false
  kValue,       // a bound non-empty value
  kEmptyValue,  // a bound empty text
};

// The SQL shape PocketBase's resolveEqualExpr gives `L = R` / `L != R`.
enum class EqForm : uint8_t {
  kIs,          // L IS R / L IS NOT R (a side has NullFallback::kDisabled)
  kBothEmpty,   // '' = '' / '' IS NOT ''
  kDirect,      // L = R / L IS NOT R, an empty side written as ''
  kLeftEmpty,   // ('' = R OR R IS NULL) / ('' IS NOT R AND R IS NOT NULL)
  kRightEmpty,  // (L = '' OR L IS NULL) / (L IS NOT '' AND L IS NOT NULL)
  kCoalesce,    // COALESCE(L, '') = COALESCE(R, '') / ... IS NOT ...
};
EqForm PlanEquality(Shape left, NullFallback left_nf, Shape right, NullFallback right_nf);
bool IsEmptyOperand(Shape shape, NullFallback nf);

// LIKE's right side is a bound pattern (wrapped with WrapLikeValue) when it is a value; otherwise
// the SQL is L LIKE ('%' || R || '%').
inline bool LikeBindsPattern(Shape right) { return right == Shape::kValue || right == Shape::kEmptyValue; }

}  // namespace strata::query::internal
