// Signed tokens (JWT, EdDSA/Ed25519 by default) for authenticated records. Keys live in the
// database's `_params` table so that every instance and restart shares them; each key has a `kid`,
// and a retired key still verifies the tokens it signed until they expire. Thread-safe after Open.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"
#include "util/status.hpp"

namespace strata::auth {

struct SigningKey {
  std::string kid;
  std::string alg = "EdDSA";  // "EdDSA" (Ed25519) or "HS256" (HMAC-SHA256, a shared secret)
  std::string public_key;     // EdDSA: raw 32 bytes; HS256: empty
  std::string secret_key;     // EdDSA: raw 64 bytes (libsodium's seed + public key); HS256: 32 bytes
  int64_t created = 0;        // unix seconds
  bool retired = false;       // verifies, never signs
  int64_t retired_at = 0;     // unix seconds
};

// How long a retired key is kept: longer than any token it signed can live.
inline constexpr int64_t kRetiredKeyLifetime = 90 * 24 * 3600;

// What a token says about its holder.
struct TokenClaims {
  std::string record_id;
  std::string collection_id;
  std::string type;             // "auth", "file", …
  std::string key_fingerprint;  // binds the token to the record's tokenKey at signing time
  bool refreshable = false;
  int64_t expires = 0;    // unix seconds
  std::string email;      // verification, passwordReset, emailChange: the address the mail went to
  std::string new_email;  // emailChange: the address to change to
};

class TokenService {
 public:
  // Loads the signing keys from the store, creating the first one (EdDSA) if there is none.
  // Returns the service, or the store's error. `store` must outlive the service, which reloads
  // the keys every few seconds and on an unknown kid, so that a rotation made by another process
  // (`strata keys rotate`) is picked up.
  static util::Result<std::unique_ptr<TokenService>> Open(store::Store& store);

  // Retires every key and makes a new active one with `alg` ("EdDSA" or "HS256"); retired keys
  // older than kRetiredKeyLifetime are dropped. Returns the new key's kid, or the store's error
  // (InvalidArgument for an unknown alg).
  static util::Result<std::string> Rotate(store::Store& store, std::string_view alg);

  // The keys as stored (for `strata keys list`).
  static util::Result<std::vector<SigningKey>> List(store::Store& store);

  // A signed token for `claims`, valid for `lifetime_seconds` from now.
  std::string Sign(TokenClaims claims, int64_t lifetime_seconds) const;

  // The claims of a well-formed, correctly signed, unexpired token; InvalidArgument otherwise.
  // The header's alg must be the algorithm of the key its kid names: "none", HS256 under an
  // Ed25519 key (signed with its public key) and other algorithms are refused.
  util::Result<TokenClaims> Verify(std::string_view token) const;

  // The public keys as a JSON Web Key Set ({"keys":[{"kty":"OKP","crv":"Ed25519","x":…,"kid":…}]});
  // HS256 secrets are never published.
  boost::json::object Jwks() const;

 private:
  TokenService(store::Store& store, std::vector<SigningKey> keys);
  std::shared_ptr<const std::vector<SigningKey>> Keys(bool unknown_kid = false) const;

  store::Store& store_;
  mutable std::mutex mu_;  // guards keys_ and loaded_
  mutable std::shared_ptr<const std::vector<SigningKey>> keys_;
  mutable int64_t loaded_ = 0;  // steady milliseconds of the last load
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
