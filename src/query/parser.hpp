// Parser of PocketBase's filter language (fexpr's grammar) into an Expr tree.
// Stateless; thread-safe.
#pragma once

#include <string_view>

#include "query/ast.hpp"
#include "util/status.hpp"

namespace strata::query {

// Parses `filter`. Returns the tree, or InvalidArgument whose message names the 1-based character
// position of the problem ("invalid filter at position 7: expected an operator, got \"foo\""):
// malformed or empty filters, unknown functions or wrong arguments, and filters beyond the limits in
// query/limits.hpp (length, comparisons, nesting). Work is linear in the filter's length.
util::Result<Expr> Parse(std::string_view filter);

// The Traits of a filter's text; a filter that does not parse has all of them (it is refused
// elsewhere, and nothing built with it may be kept).
Traits TraitsOf(std::string_view filter);

}  // namespace strata::query
