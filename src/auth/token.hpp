// Signed tokens (JWT, EdDSA/Ed25519 by default) for authenticated records. Keys live in the
// database's `_params` table so that every instance and restart shares them; each key has a `kid`,
// and a retired key still verifies the tokens it signed until they expire. Thread-safe after Open.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "store/store.hpp"
#include "util/status.hpp"

namespace strata::auth {

struct SigningKey {
  std::string kid;
  std::string public_key;  // raw 32 bytes
  std::string secret_key;  // raw 64 bytes (libsodium's seed + public key)
  int64_t created = 0;     // unix seconds
  bool retired = false;    // verifies, never signs
};

// What a token says about its holder.
struct TokenClaims {
  std::string record_id;
  std::string collection_id;
  std::string type;          // "auth", "file", …
  std::string key_fingerprint;  // binds the token to the record's tokenKey at signing time
  bool refreshable = false;
  int64_t expires = 0;    // unix seconds
  std::string email;      // verification, passwordReset, emailChange: the address the mail went to
  std::string new_email;  // emailChange: the address to change to
};

class TokenService {
 public:
  // Loads the signing keys from the store, creating the first one if there is none.
  // Returns the service, or the store's error.
  static util::Result<std::unique_ptr<TokenService>> Open(store::Store& store);

  // A signed token for `claims`, valid for `lifetime_seconds` from now.
  std::string Sign(TokenClaims claims, int64_t lifetime_seconds) const;

  // The claims of a well-formed, correctly signed, unexpired token; InvalidArgument otherwise.
  // Only EdDSA with a known kid is accepted: "none", HS256 and other algorithms are refused.
  util::Result<TokenClaims> Verify(std::string_view token) const;

  // The public keys as a JSON Web Key Set ({"keys":[{"kty":"OKP","crv":"Ed25519","x":…,"kid":…}]}).
  boost::json::object Jwks() const;

 private:
  explicit TokenService(std::vector<SigningKey> keys) : keys_(std::move(keys)) {}
  const SigningKey* Active() const;
  std::vector<SigningKey> keys_;
};

// A short fingerprint of a record's tokenKey, carried in its tokens so that changing the tokenKey
// (password change, log out everywhere) invalidates them.
std::string TokenKeyFingerprint(std::string_view token_key);

// Constant-time comparison of two strings.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// base64url without padding.
std::string Base64UrlEncode(std::string_view raw);
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace strata::auth
