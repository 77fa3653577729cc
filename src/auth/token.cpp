#include "auth/token.hpp"

#include <sodium.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstring>

#include "auth/password.hpp"

namespace strata::auth {
namespace {

int64_t NowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

SigningKey NewKey(std::string_view alg) {
  SigningKey k;
  k.alg = std::string(alg);
  if (alg == "HS256") {
    k.secret_key.resize(crypto_auth_hmacsha256_KEYBYTES);
    crypto_auth_hmacsha256_keygen(reinterpret_cast<unsigned char*>(k.secret_key.data()));
  } else {
    k.public_key.resize(crypto_sign_PUBLICKEYBYTES);
    k.secret_key.resize(crypto_sign_SECRETKEYBYTES);
    crypto_sign_keypair(reinterpret_cast<unsigned char*>(k.public_key.data()),
                        reinterpret_cast<unsigned char*>(k.secret_key.data()));
  }
  k.kid = RandomSecret(16);
  k.created = NowSeconds();
  return k;
}

int64_t SteadyMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// How often the keys are read again, for rotations made by other processes.
constexpr int64_t kReloadMillis = 5000;
// At most this often on an unknown kid (a forged kid must not make every request read the store).
constexpr int64_t kUnknownKidReloadMillis = 1000;

boost::json::array KeysToJson(const std::vector<SigningKey>& keys) {
  boost::json::array out;
  for (const auto& k : keys) {
    out.push_back(boost::json::object{{"kid", k.kid},
                                      {"alg", k.alg},
                                      {"public", Base64UrlEncode(k.public_key)},
                                      {"secret", Base64UrlEncode(k.secret_key)},
                                      {"created", k.created},
                                      {"retired", k.retired},
                                      {"retiredAt", k.retired_at}});
  }
  return out;
}

std::optional<std::vector<SigningKey>> KeysFromJson(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return std::nullopt;
  std::vector<SigningKey> keys;
  for (const auto& item : v.as_array()) {
    if (!item.is_object()) return std::nullopt;
    const auto& o = item.as_object();
    SigningKey k;
    auto str = [&](const char* key) -> std::string {
      auto it = o.find(key);
      return it != o.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
    };
    k.kid = str("kid");
    k.alg = str("alg").empty() ? "EdDSA" : str("alg");
    auto pub = Base64UrlDecode(str("public"));
    auto sec = Base64UrlDecode(str("secret"));
    if (k.kid.empty() || !pub || !sec) return std::nullopt;
    const bool ed =
        k.alg == "EdDSA" && pub->size() == crypto_sign_PUBLICKEYBYTES && sec->size() == crypto_sign_SECRETKEYBYTES;
    const bool hs = k.alg == "HS256" && sec->size() == crypto_auth_hmacsha256_KEYBYTES;
    if (!ed && !hs) return std::nullopt;
    k.public_key = std::move(*pub);
    k.secret_key = std::move(*sec);
    if (auto it = o.find("created"); it != o.end() && it->value().is_int64()) k.created = it->value().as_int64();
    if (auto it = o.find("retired"); it != o.end() && it->value().is_bool()) k.retired = it->value().as_bool();
    if (auto it = o.find("retiredAt"); it != o.end() && it->value().is_int64()) k.retired_at = it->value().as_int64();
    keys.push_back(std::move(k));
  }
  return keys;
}

util::Result<std::vector<SigningKey>> LoadKeys(store::Tx& tx) {
  if (auto r = tx.Exec("CREATE TABLE IF NOT EXISTS `_params` (`id` TEXT PRIMARY KEY NOT NULL, `value` JSON)"); !r) {
    return std::unexpected(r.error());
  }
  auto rs = tx.Query("SELECT `value` FROM `_params` WHERE `id` = 'token_keys'");
  if (!rs) return std::unexpected(rs.error());
  if (rs->rows.empty()) return std::vector<SigningKey>{};
  auto loaded = KeysFromJson(std::get<std::string>(rs->rows[0][0]));
  if (!loaded) return std::unexpected(util::Status::Internal("the stored token keys are corrupt"));
  return std::move(*loaded);
}

util::Status SaveKeys(store::Tx& tx, const std::vector<SigningKey>& keys) {
  auto r = tx.Exec(
      "INSERT INTO `_params` (`id`, `value`) VALUES ('token_keys', ?) "
      "ON CONFLICT (`id`) DO UPDATE SET `value` = excluded.`value`",
      {boost::json::serialize(KeysToJson(keys))});
  return r ? util::Status::Ok() : r.error();
}

const SigningKey* ActiveOf(const std::vector<SigningKey>& keys) {
  const SigningKey* best = nullptr;
  for (const auto& k : keys) {
    if (!k.retired && (!best || k.created >= best->created)) best = &k;
  }
  return best;
}

std::string Sign(const SigningKey& key, std::string_view input) {
  if (key.alg == "HS256") {
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                           reinterpret_cast<const unsigned char*>(key.secret_key.data()));
    return std::string(reinterpret_cast<const char*>(mac), sizeof mac);
  }
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                       reinterpret_cast<const unsigned char*>(key.secret_key.data()));
  return std::string(reinterpret_cast<const char*>(sig), sizeof sig);
}

bool SignatureValid(const SigningKey& key, std::string_view input, std::string_view sig) {
  if (key.alg == "HS256") {
    return sig.size() == crypto_auth_hmacsha256_BYTES &&
           crypto_auth_hmacsha256_verify(reinterpret_cast<const unsigned char*>(sig.data()),
                                         reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                                         reinterpret_cast<const unsigned char*>(key.secret_key.data())) == 0;
  }
  return sig.size() == crypto_sign_BYTES &&
         crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig.data()),
                                     reinterpret_cast<const unsigned char*>(input.data()), input.size(),
                                     reinterpret_cast<const unsigned char*>(key.public_key.data())) == 0;
}

}  // namespace

std::string Base64UrlEncode(std::string_view raw) {
  std::string out(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  std::string out(text.size(), '\0');
  std::size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr,
                        &len, nullptr, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return a.empty() || sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string TokenKeyFingerprint(std::string_view token_key) {
  unsigned char digest[16];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(token_key.data()), token_key.size(),
                     nullptr, 0);
  return Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

util::Result<std::unique_ptr<TokenService>> TokenService::Open(store::Store& store) {
  std::vector<SigningKey> keys;
  auto st = store.WriteAndWait([&](store::Tx& tx) -> util::Status {
    auto loaded = LoadKeys(tx);
    if (!loaded) return loaded.error();
    keys = std::move(*loaded);
    if (ActiveOf(keys)) return util::Status::Ok();
    keys.push_back(NewKey("EdDSA"));
    return SaveKeys(tx, keys);
  });
  if (!st.ok()) return std::unexpected(st);
  return std::unique_ptr<TokenService>(new TokenService(store, std::move(keys)));
}

util::Result<std::string> TokenService::Rotate(store::Store& store, std::string_view alg) {
  if (alg != "EdDSA" && alg != "HS256") {
    return std::unexpected(util::Status::InvalidArgument("the algorithm must be EdDSA or HS256"));
  }
  std::string kid;
  auto st = store.WriteAndWait([&](store::Tx& tx) -> util::Status {
    auto keys = LoadKeys(tx);
    if (!keys) return keys.error();
    const int64_t now = NowSeconds();
    std::erase_if(*keys, [&](const SigningKey& k) { return k.retired && k.retired_at < now - kRetiredKeyLifetime; });
    for (auto& k : *keys) {
      if (!k.retired) {
        k.retired = true;
        k.retired_at = now;
      }
    }
    keys->push_back(NewKey(alg));
    kid = keys->back().kid;
    return SaveKeys(tx, *keys);
  });
  if (!st.ok()) return std::unexpected(st);
  return kid;
}

util::Result<std::vector<SigningKey>> TokenService::List(store::Store& store) {
  std::vector<SigningKey> keys;
  auto st = store.WriteAndWait([&](store::Tx& tx) -> util::Status {
    auto loaded = LoadKeys(tx);
    if (!loaded) return loaded.error();
    keys = std::move(*loaded);
    return util::Status::Ok();
  });
  if (!st.ok()) return std::unexpected(st);
  return keys;
}

TokenService::TokenService(store::Store& store, std::vector<SigningKey> keys)
    : store_(store), keys_(std::make_shared<const std::vector<SigningKey>>(std::move(keys))), loaded_(SteadyMillis()) {}

std::shared_ptr<const std::vector<SigningKey>> TokenService::Keys(bool unknown_kid) const {
  const int64_t now = SteadyMillis();
  {
    std::lock_guard lock(mu_);
    const int64_t age = now - loaded_;
    if (age < (unknown_kid ? kUnknownKidReloadMillis : kReloadMillis)) return keys_;
    loaded_ = now;  // one reload at a time; others use the current keys meanwhile
  }
  auto rs = store_.Query("SELECT `value` FROM `_params` WHERE `id` = 'token_keys'");
  std::lock_guard lock(mu_);
  if (rs && !rs->rows.empty()) {
    if (auto* text = std::get_if<std::string>(&rs->rows[0][0])) {
      if (auto loaded = KeysFromJson(*text); loaded && ActiveOf(*loaded)) {
        keys_ = std::make_shared<const std::vector<SigningKey>>(std::move(*loaded));
      }
    }
  }
  return keys_;
}

std::string TokenService::Sign(TokenClaims claims, int64_t lifetime_seconds) const {
  const auto keys = Keys();
  const SigningKey* key = ActiveOf(*keys);
  const std::string header =
      boost::json::serialize(boost::json::object{{"alg", key->alg}, {"typ", "JWT"}, {"kid", key->kid}});
  boost::json::object payload{{"collectionId", claims.collection_id},
                              {"exp", NowSeconds() + lifetime_seconds},
                              {"id", claims.record_id},
                              {"refreshable", claims.refreshable},
                              {"type", claims.type}};
  if (!claims.key_fingerprint.empty()) payload["tk"] = claims.key_fingerprint;
  if (!claims.email.empty()) payload["email"] = claims.email;
  if (!claims.new_email.empty()) payload["newEmail"] = claims.new_email;
  const std::string signing_input = Base64UrlEncode(header) + "." + Base64UrlEncode(boost::json::serialize(payload));
  return signing_input + "." + Base64UrlEncode(auth::Sign(*key, signing_input));
}

util::Result<TokenClaims> TokenService::Verify(std::string_view token) const {
  auto invalid = [](std::string_view why) { return std::unexpected(util::Status::InvalidArgument(why)); };
  if (token.size() > 4096) return invalid("token too long");
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return invalid("malformed token");
  }
  auto header_raw = Base64UrlDecode(token.substr(0, dot1));
  auto payload_raw = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto sig = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_raw || !payload_raw || !sig) return invalid("malformed token");
  boost::system::error_code ec;
  auto header = boost::json::parse(*header_raw, ec);
  if (ec || !header.is_object()) return invalid("malformed token header");
  const auto& h = header.as_object();
  auto alg = h.find("alg");
  if (alg == h.end() || !alg->value().is_string()) return invalid("unsupported algorithm");
  auto kid = h.find("kid");
  if (kid == h.end() || !kid->value().is_string()) return invalid("missing key id");
  auto find = [&](const std::vector<SigningKey>& keys) -> const SigningKey* {
    for (const auto& k : keys) {
      if (k.kid == kid->value().as_string()) return &k;
    }
    return nullptr;
  };
  auto keys = Keys();
  const SigningKey* key = find(*keys);
  if (!key) {
    keys = Keys(/*unknown_kid=*/true);
    key = find(*keys);
  }
  if (!key) return invalid("unknown key id");
  // The algorithm is the key's, never the token's choice.
  if (alg->value().as_string() != key->alg) return invalid("unsupported algorithm");
  if (!SignatureValid(*key, token.substr(0, dot2), *sig)) return invalid("bad signature");
  auto payload = boost::json::parse(*payload_raw, ec);
  if (ec || !payload.is_object()) return invalid("malformed token payload");
  const auto& p = payload.as_object();
  TokenClaims c;
  auto str = [&](const char* k) -> std::string {
    auto it = p.find(k);
    return it != p.end() && it->value().is_string() ? std::string(it->value().as_string()) : std::string();
  };
  c.record_id = str("id");
  c.collection_id = str("collectionId");
  c.type = str("type");
  c.key_fingerprint = str("tk");
  c.email = str("email");
  c.new_email = str("newEmail");
  if (auto it = p.find("refreshable"); it != p.end() && it->value().is_bool()) c.refreshable = it->value().as_bool();
  auto exp = p.find("exp");
  if (exp == p.end() || !exp->value().is_number()) return invalid("missing expiry");
  c.expires = exp->value().to_number<int64_t>();
  if (c.expires <= NowSeconds()) return invalid("token expired");
  if (c.record_id.empty() || c.collection_id.empty()) return invalid("incomplete token");
  return c;
}

boost::json::object TokenService::Jwks() const {
  boost::json::array keys;
  for (const auto& k : *Keys()) {
    if (k.alg != "EdDSA") continue;
    keys.push_back(boost::json::object{{"kty", "OKP"},
                                       {"crv", "Ed25519"},
                                       {"x", Base64UrlEncode(k.public_key)},
                                       {"kid", k.kid},
                                       {"alg", "EdDSA"},
                                       {"use", "sig"}});
  }
  return {{"keys", std::move(keys)}};
}

}  // namespace strata::auth
