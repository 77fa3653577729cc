// Limits of collection definitions.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strata::schema {

inline constexpr std::size_t kMaxNameLength = 255;     // collection and field names
inline constexpr std::size_t kMaxIdLength = 100;       // collection ids
inline constexpr std::size_t kMaxFields = 1000;        // fields per collection
inline constexpr std::size_t kMaxIndexes = 100;        // indexes per collection
inline constexpr std::size_t kMaxSelectValues = 1000;  // values of a select field
inline constexpr int64_t kMaxCacheMaxAge = 31536000;   // cacheMaxAge: a year, in seconds

}  // namespace strata::schema
