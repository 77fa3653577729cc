// Limits of the store module.
#pragma once

#include <chrono>
#include <cstddef>

namespace strata::store {

inline constexpr std::size_t kMaxWritesPerBatch = 512;          // one group commit at most
inline constexpr std::size_t kStatementCacheSize = 256;         // prepared statements per connection
inline constexpr std::chrono::milliseconds kBusyTimeout{5000};  // other processes (the CLI) holding the lock

}  // namespace strata::store
