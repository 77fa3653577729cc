// Password hashing with argon2id (libsodium). Thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/status.hpp"

namespace strata::auth {

// argon2id cost: OWASP's recommended minimum (19 MiB of memory, 2 passes, 1 lane). Memory-hard
// enough to make guessing costly on GPUs, cheap enough to verify tens of logins a second per
// core without letting a login burst exhaust memory.
inline constexpr unsigned long long kPasswordOpsLimit = 2;
inline constexpr std::size_t kPasswordMemLimit = 19 * 1024 * 1024;

// Initialises libsodium; call once at start-up (safe to call again). Returns Ok or Internal.
util::Status InitCrypto();

// The password's argon2id hash in PHC string form ($argon2id$v=19$m=…,t=…,p=1$salt$hash), or
// Internal when memory for hashing could not be had.
util::Result<std::string> HashPassword(std::string_view password);

// True if `password` matches `hash` (comparison in constant time); false for a malformed hash.
bool VerifyPassword(std::string_view hash, std::string_view password);

// `n` random characters of [a-zA-Z0-9] from the OS's cryptographic generator: token keys, secrets.
std::string RandomSecret(std::size_t n);

}  // namespace strata::auth
