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

SigningKey NewKey() {
  SigningKey k;
  k.public_key.resize(crypto_sign_PUBLICKEYBYTES);
  k.secret_key.resize(crypto_sign_SECRETKEYBYTES);
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(k.public_key.data()),
                      reinterpret_cast<unsigned char*>(k.secret_key.data()));
  k.kid = RandomSecret(16);
  k.created = NowSeconds();
  return k;
}

boost::json::array KeysToJson(const std::vector<SigningKey>& keys) {
  boost::json::array out;
  for (const auto& k : keys) {
    out.push_back(boost::json::object{{"kid", k.kid},
                                      {"alg", "EdDSA"},
                                      {"public", Base64UrlEncode(k.public_key)},
                                      {"secret", Base64UrlEncode(k.secret_key)},
                                      {"created", k.created},
                                      {"retired", k.retired}});
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
    auto pub = Base64UrlDecode(str("public"));
    auto sec = Base64UrlDecode(str("secret"));
    if (k.kid.empty() || !pub || !sec || pub->size() != crypto_sign_PUBLICKEYBYTES ||
        sec->size() != crypto_sign_SECRETKEYBYTES) {
      return std::nullopt;
    }
    k.public_key = std::move(*pub);
    k.secret_key = std::move(*sec);
    if (auto it = o.find("created"); it != o.end() && it->value().is_int64()) k.created = it->value().as_int64();
    if (auto it = o.find("retired"); it != o.end() && it->value().is_bool()) k.retired = it->value().as_bool();
    keys.push_back(std::move(k));
  }
  return keys;
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
  util::Status failure;
  auto st = store.WriteAndWait([&](store::Tx& tx) -> util::Status {
    if (auto r = tx.Exec("CREATE TABLE IF NOT EXISTS `_params` (`id` TEXT PRIMARY KEY NOT NULL, `value` JSON)"); !r) {
      return r.error();
    }
    auto rs = tx.Query("SELECT `value` FROM `_params` WHERE `id` = 'token_keys'");
    if (!rs) return rs.error();
    if (!rs->rows.empty()) {
      auto loaded = KeysFromJson(std::get<std::string>(rs->rows[0][0]));
      if (!loaded) return util::Status::Internal("the stored token keys are corrupt");
      keys = std::move(*loaded);
    }
    if (keys.empty()) {
      keys.push_back(NewKey());
      auto r = tx.Exec("INSERT OR REPLACE INTO `_params` (`id`, `value`) VALUES ('token_keys', ?)",
                       {boost::json::serialize(KeysToJson(keys))});
      if (!r) return r.error();
    }
    return util::Status::Ok();
  });
  if (!st.ok()) return std::unexpected(st);
  return std::unique_ptr<TokenService>(new TokenService(std::move(keys)));
}

const SigningKey* TokenService::Active() const {
  const SigningKey* best = nullptr;
  for (const auto& k : keys_) {
    if (!k.retired && (!best || k.created >= best->created)) best = &k;
  }
  return best;
}

std::string TokenService::Sign(TokenClaims claims, int64_t lifetime_seconds) const {
  const SigningKey* key = Active();
  const std::string header = boost::json::serialize(boost::json::object{{"alg", "EdDSA"}, {"typ", "JWT"}, {"kid", key->kid}});
  boost::json::object payload{{"collectionId", claims.collection_id},
                              {"exp", NowSeconds() + lifetime_seconds},
                              {"id", claims.record_id},
                              {"refreshable", claims.refreshable},
                              {"type", claims.type}};
  if (!claims.key_fingerprint.empty()) payload["tk"] = claims.key_fingerprint;
  if (!claims.email.empty()) payload["email"] = claims.email;
  if (!claims.new_email.empty()) payload["newEmail"] = claims.new_email;
  const std::string signing_input = Base64UrlEncode(header) + "." + Base64UrlEncode(boost::json::serialize(payload));
  unsigned char sig[crypto_sign_BYTES];
  crypto_sign_detached(sig, nullptr, reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(),
                       reinterpret_cast<const unsigned char*>(key->secret_key.data()));
  return signing_input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(sig), sizeof sig));
}

util::Result<TokenClaims> TokenService::Verify(std::string_view token) const {
  auto invalid = [](std::string_view why) { return std::unexpected(util::Status::InvalidArgument(why)); };
  if (token.size() > 4096) return invalid("token too long");
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) return invalid("malformed token");
  auto header_raw = Base64UrlDecode(token.substr(0, dot1));
  auto payload_raw = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto sig = Base64UrlDecode(token.substr(dot2 + 1));
  if (!header_raw || !payload_raw || !sig) return invalid("malformed token");
  boost::system::error_code ec;
  auto header = boost::json::parse(*header_raw, ec);
  if (ec || !header.is_object()) return invalid("malformed token header");
  const auto& h = header.as_object();
  auto alg = h.find("alg");
  if (alg == h.end() || !alg->value().is_string() || alg->value().as_string() != "EdDSA") return invalid("unsupported algorithm");
  auto kid = h.find("kid");
  if (kid == h.end() || !kid->value().is_string()) return invalid("missing key id");
  const SigningKey* key = nullptr;
  for (const auto& k : keys_) {
    if (k.kid == kid->value().as_string()) key = &k;
  }
  if (!key) return invalid("unknown key id");
  if (sig->size() != crypto_sign_BYTES) return invalid("bad signature");
  const std::string_view signing_input = token.substr(0, dot2);
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(sig->data()),
                                  reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(),
                                  reinterpret_cast<const unsigned char*>(key->public_key.data())) != 0) {
    return invalid("bad signature");
  }
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
  for (const auto& k : keys_) {
    keys.push_back(boost::json::object{
        {"kty", "OKP"}, {"crv", "Ed25519"}, {"x", Base64UrlEncode(k.public_key)}, {"kid", k.kid}, {"alg", "EdDSA"}, {"use", "sig"}});
  }
  return {{"keys", std::move(keys)}};
}

}  // namespace strata::auth
