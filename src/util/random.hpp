// Random identifiers. Functions are thread-safe: each thread keeps its own generator.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace strata::util {

// Returns `length` characters drawn uniformly from `alphabet` with a fast, non-cryptographic
// per-thread generator seeded from the OS: for request ids and other non-secret identifiers.
std::string RandomString(std::size_t length, std::string_view alphabet);

// A random string that matches `pattern`, for fields with an autogeneratePattern, when the pattern
// is a sequence of literals, classes ([a-z0-9_], \d, \w, .) and quantifiers ({n}, {n,m}, ?, *, +),
// optionally between ^ and $; nullopt for other patterns (groups, alternatives, negated classes)
// or a result longer than 4,096 characters.
std::optional<std::string> RandomStringByPattern(std::string_view pattern);

// A new request id: 20 characters of [a-z0-9].
std::string NewRequestId();

// True if `id` is acceptable as a client-supplied request id: 1 to 128 characters of
// [A-Za-z0-9._:-], so that it is safe to echo in headers and logs.
bool IsValidRequestId(std::string_view id);

}  // namespace strata::util
