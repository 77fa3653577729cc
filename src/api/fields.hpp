// FieldPicker: PocketBase's `?fields=` parameter, which keeps only the named keys of a response
// ("id,expand.author.name,*") and can shorten strings with the `:excerpt(max, withEllipsis?)`
// modifier. Immutable after Parse; safe to share between threads.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.hpp"

namespace strata::api {

class FieldPicker {
 public:
  // The `excerpt` modifier's arguments.
  struct Excerpt {
    int64_t max = 0;  // > 0
    bool ellipsis = false;
  };

  // Parses a comma-separated list of dotted paths, each with an optional ":modifier". Returns the
  // picker (empty when `fields` names nothing), or InvalidArgument for unbalanced parentheses or
  // quotes and for an unknown or malformed modifier.
  static util::Result<FieldPicker> Parse(std::string_view fields);

  // No fields were given: Apply would leave every value unchanged, so callers may skip it.
  bool empty() const { return fields_.empty(); }

  // Keeps the picked keys of an object, or of each object of an array whose first item is an
  // object, and applies the modifiers to the picked strings. Other values are left unchanged; the
  // remaining keys keep their order.
  void Apply(boost::json::value& v) const;

 private:
  struct Field {
    std::string path;
    std::optional<Excerpt> modifier;
  };

  std::vector<Field> fields_;  // paths are unique; a later duplicate replaced the earlier one
};

// The plain text of `html` (elements that show no text skipped, whitespace collapsed, a space
// around block elements), cut to at most `max` characters and then followed by "..." when
// `ellipsis` is set. Never fails: malformed markup is read as leniently as a browser would.
std::string ExcerptText(std::string_view html, int64_t max, bool ellipsis);

}  // namespace strata::api
