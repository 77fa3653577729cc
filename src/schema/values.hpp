// Record field values: casting submitted JSON to a field's canonical form as PocketBase does,
// validating it with PocketBase's error codes, and the SQL form it is stored in. Stateless;
// thread-safe.
#pragma once

#include <array>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "schema/collection.hpp"
#include "util/sql_value.hpp"

namespace re2 {
class RE2;
}

namespace re2 {
class RE2;
}

namespace strata::schema {

inline constexpr int64_t kDefaultTextMax = 5000;           // characters, when a text field sets no max
inline constexpr int64_t kDefaultEditorMaxSize = 5 << 20;  // bytes
inline constexpr int64_t kDefaultJsonMaxSize = 1 << 20;    // bytes
inline constexpr int64_t kDefaultPasswordMax = 71;         // characters

struct FieldError {
  std::string code;
  std::string message;
  boost::json::object params = {};  // PocketBase's error params ({"max": 100}), for clients that translate
};

// The field's canonical value for a submitted one: strings for text-like fields, numbers, bools,
// arrays of strings for multiple select/relation/file, objects for geoPoint, any JSON for json.
boost::json::value CastValue(const Field& field, const boost::json::value& input);

// A text field's pattern compiled, in Go's regular-expression syntax as PocketBase's (named groups
// also as "(?<name>…)"); nullptr when it is not a valid one. Matching takes time linear in the
// value, without recursion.
std::unique_ptr<const re2::RE2> CompilePattern(std::string_view pattern);

// A text field's pattern compiled, in Go's regular-expression syntax as PocketBase's (named groups
// also as "(?<name>…)"); nullptr when it is not a valid one. Matching takes time linear in the
// value, without recursion.
std::unique_ptr<const re2::RE2> CompilePattern(std::string_view pattern);

// `value` with the body's modifiers of `f` applied, as PocketBase: "f+" appends to a multiple field
// (or adds to a number), "+f" prepends, "f-" removes (or subtracts; on a single field, clears the
// value it names). `touched` is set when the body has any of them.
boost::json::value ApplyModifiers(const Field& f, const boost::json::object& body, boost::json::value value,
                                  bool& touched);
// The body keys of `f`'s modifiers: "+f", "f+", "f-".
std::array<std::string, 3> ModifierKeys(const Field& f);

// The value a field has when none was given.
boost::json::value ZeroValue(const Field& field);

// Checks a canonical value against the field's options (required, lengths, ranges, patterns,
// allowed values, sizes). Relation ids are checked against the database by the caller.
std::optional<FieldError> ValidateValue(const Field& field, const boost::json::value& value);

// The stored form of a canonical value.
util::SqlValue ToSqlValue(const Field& field, const boost::json::value& value);

// "2006-01-02 15:04:05.000Z" for a datetime in that form, RFC 3339, or a bare date; nullopt when
// the text is not a datetime. Empty text stays empty.
std::optional<std::string> NormalizeDateTime(std::string_view text);

// True for an address of the shape local@domain.tld, without spaces, at most 254 characters.
bool IsValidEmail(std::string_view email);

// The number of characters (code points) of UTF-8 text.
std::size_t Utf8Length(std::string_view text);

}  // namespace strata::schema
