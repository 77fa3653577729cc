// Limits of the filter language, in one place (PocketBase's tools/search/provider.go keeps the
// same kind of list). Every one bounds the work a single filter can cause.
#pragma once

#include <cstddef>

namespace strata::query {

inline constexpr std::size_t kMaxFilterLength = 3500;  // characters of filter text, as PocketBase
inline constexpr std::size_t kMaxExpressions = 200;    // comparisons in one filter, as PocketBase
inline constexpr std::size_t kMaxNestingDepth = 32;    // nested parentheses
inline constexpr std::size_t kMaxFunctionDepth = 3;    // f(g(h(1))) at most, as fexpr
inline constexpr std::size_t kMaxFunctionArgs = 10;    // arguments of one call (strftime's limit in PocketBase)

}  // namespace strata::query
