// Internal to src/query: PocketBase's datetime macros and text format, and SQLite's date
// functions (strftime with its time values and modifiers) for the in-memory evaluator and the
// PostgreSQL translation. Stateless functions; thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "query/semantics.hpp"
#include "util/status.hpp"

namespace strata::query::internal {

using Clock = std::chrono::system_clock;

// PocketBase's datetime text, "2006-01-02 15:04:05.000Z" (UTC, milliseconds truncated).
std::string FormatDateTime(Clock::time_point t);

// The value of a datetime macro (`@now`, `@todayStart`, `@year`, ...) at `now`: a datetime text or an
// integer. nullopt for a name that is not a macro.
struct MacroValue {
  bool is_text = false;
  std::string text;
  int64_t number = 0;
};
std::optional<MacroValue> EvalMacro(std::string_view name, Clock::time_point now);

// A strftime modifier as SQLite reads it (case-insensitive).
struct DateModifier {
  enum class Kind : uint8_t { kAdd, kStartOfDay, kStartOfMonth, kStartOfYear, kUnixEpoch, kWeekday };
  Kind kind = Kind::kAdd;
  double amount = 0;  // kAdd: the number; kWeekday: the day (0 = Sunday)
  int unit = 0;       // kAdd: 0 second, 1 minute, 2 hour, 3 day, 4 month, 5 year
};
// nullopt when the text is not a modifier this module implements ("localtime", "utc", "auto", "±HH:MM", ...).
std::optional<DateModifier> ParseDateModifier(std::string_view text);
// The unit names of DateModifier::unit, plural ("seconds", ..., "years").
std::string_view DateUnitName(int unit);

// SQLite's strftime(format, time, modifiers...). `time` null means no time argument ('now').
// Returns the text, nullopt for SQL NULL (invalid time, unknown format specifier or modifier
// SQLite rejects), or InvalidArgument for a modifier SQLite accepts but this module does not implement.
util::Result<std::optional<std::string>> Strftime(std::string_view format, const Val* time,
                                                  const std::vector<std::string>& modifiers, Clock::time_point now);

}  // namespace strata::query::internal
