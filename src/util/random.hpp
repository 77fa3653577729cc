// Random identifiers. Functions are thread-safe: each thread keeps its own generator.
#pragma once

#include <string>
#include <string_view>

namespace strata::util {

// Returns `length` characters drawn uniformly from `alphabet` with a fast, non-cryptographic
// per-thread generator seeded from the OS: for request ids and other non-secret identifiers.
std::string RandomString(std::size_t length, std::string_view alphabet);

// A new request id: 20 characters of [a-z0-9].
std::string NewRequestId();

// True if `id` is acceptable as a client-supplied request id: 1 to 128 characters of
// [A-Za-z0-9._:-], so that it is safe to echo in headers and logs.
bool IsValidRequestId(std::string_view id);

}  // namespace strata::util
