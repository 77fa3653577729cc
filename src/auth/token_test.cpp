#include "auth/token.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cstring>
#include <filesystem>
#include <thread>

#include "auth/password.hpp"
#include "store/sqlite_store.hpp"

namespace strata::auth {
namespace {

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCrypto().ok());
    dir_ = std::filesystem::temp_directory_path() /
           ("strata_token_test_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    auto store = store::OpenSqliteStore({.dir = dir_});
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    auto svc = TokenService::Open(*store_);
    ASSERT_TRUE(svc) << svc.error().ToString();
    svc_ = std::move(*svc);
  }
  void TearDown() override {
    svc_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  TokenClaims Claims() {
    return {.record_id = "abc",
            .collection_id = "pbc_1",
            .type = "auth",
            .key_fingerprint = TokenKeyFingerprint("k1"),
            .refreshable = true};
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TokenService> svc_;
};

TEST_F(TokenTest, RoundTrip) {
  const auto token = svc_->Sign(Claims(), 3600);
  auto c = svc_->Verify(token);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->record_id, "abc");
  EXPECT_EQ(c->collection_id, "pbc_1");
  EXPECT_EQ(c->type, "auth");
  EXPECT_TRUE(c->refreshable);
  EXPECT_EQ(c->key_fingerprint, TokenKeyFingerprint("k1"));
  EXPECT_NE(c->key_fingerprint, TokenKeyFingerprint("k2"));
}

TEST_F(TokenTest, KeysPersistAcrossRestarts) {
  const auto token = svc_->Sign(Claims(), 3600);
  auto again = TokenService::Open(*store_);
  ASSERT_TRUE(again);
  EXPECT_TRUE((*again)->Verify(token));
  EXPECT_EQ(boost::json::serialize((*again)->Jwks()), boost::json::serialize(svc_->Jwks()));
}

TEST_F(TokenTest, RefusesForgeries) {
  const auto token = svc_->Sign(Claims(), 3600);
  const auto dot1 = token.find('.'), dot2 = token.rfind('.');
  const std::string header = token.substr(0, dot1);
  const std::string payload = token.substr(dot1 + 1, dot2 - dot1 - 1);

  // A payload claiming another id under the original signature.
  const std::string other_payload =
      Base64UrlEncode(R"({"collectionId":"pbc_1","exp":9999999999,"id":"admin","refreshable":true,"type":"auth"})");
  EXPECT_FALSE(svc_->Verify(header + "." + other_payload + token.substr(dot2)));
  // alg: none.
  EXPECT_FALSE(svc_->Verify(Base64UrlEncode(R"({"alg":"none","typ":"JWT"})") + "." + payload + "."));
  // HS256 signed with the public key as the secret.
  const auto jwks = svc_->Jwks();
  const std::string x = std::string(jwks.at("keys").as_array()[0].as_object().at("x").as_string());
  const std::string kid = std::string(jwks.at("keys").as_array()[0].as_object().at("kid").as_string());
  const std::string hs_input = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT","kid":")" + kid + R"("})") + "." + payload;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  const auto pub = Base64UrlDecode(x);
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(pub->data()), pub->size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(hs_input.data()), hs_input.size());
  crypto_auth_hmacsha256_final(&st, mac);
  EXPECT_FALSE(
      svc_->Verify(hs_input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), sizeof mac))));
  // Expired.
  EXPECT_FALSE(svc_->Verify(svc_->Sign(Claims(), -1)));
  // Garbage.
  for (const char* bad : {"", ".", "..", "a.b.c", "a.b.c.d", "eyJ.eyJ.xx"}) EXPECT_FALSE(svc_->Verify(bad)) << bad;
}

TEST_F(TokenTest, JwksShape) {
  const auto jwks = svc_->Jwks();
  const auto& key = jwks.at("keys").as_array().at(0).as_object();
  EXPECT_EQ(key.at("kty"), "OKP");
  EXPECT_EQ(key.at("crv"), "Ed25519");
  EXPECT_EQ(Base64UrlDecode(key.at("x").as_string())->size(), 32u);
  EXPECT_FALSE(key.contains("d"));  // never the private part
}

// Forges a token: `header` and `payload` as given, signed with HMAC-SHA256 under `secret`.
std::string Hs256(const std::string& header, const std::string& payload, const std::string& secret) {
  const std::string input = Base64UrlEncode(header) + "." + Base64UrlEncode(payload);
  unsigned char key[crypto_auth_hmacsha256_KEYBYTES] = {};
  std::memcpy(key, secret.data(), std::min(secret.size(), sizeof key));
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256(mac, reinterpret_cast<const unsigned char*>(input.data()), input.size(), key);
  return input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<const char*>(mac), sizeof mac));
}

TEST_F(TokenTest, RotationKeepsEarlierTokensValidAndIsSeenByRunningServices) {
  const auto before = svc_->Sign(Claims(), 3600);
  // Another process (the command line) rotates the keys in the same database.
  auto kid = TokenService::Rotate(*store_, "EdDSA");
  ASSERT_TRUE(kid) << kid.error().ToString();
  auto fresh = TokenService::Open(*store_);
  ASSERT_TRUE(fresh);
  const auto after = (*fresh)->Sign(Claims(), 3600);
  EXPECT_EQ(after.rfind(Base64UrlEncode(std::string(R"({"alg":"EdDSA","typ":"JWT","kid":")") + *kid + "\"}"), 0), 0u);
  // The running service verifies tokens of the new key (an unknown kid makes it reload, at most
  // once a second) and still those of the retired one; the new service verifies both too.
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(svc_->Verify(after)) << "new key";
  EXPECT_TRUE(svc_->Verify(before)) << "retired key";
  EXPECT_TRUE((*fresh)->Verify(before));
  auto keys = TokenService::List(*store_);
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_TRUE((*keys)[0].retired);
  EXPECT_FALSE((*keys)[1].retired);
  EXPECT_EQ((*keys)[1].kid, *kid);
  // The JWKS lists both public keys.
  EXPECT_EQ((*fresh)->Jwks().at("keys").as_array().size(), 2u);
  EXPECT_FALSE(TokenService::Rotate(*store_, "RS256"));
}

TEST_F(TokenTest, Hs256KeysSignAndVerifyAndStayUnpublished) {
  ASSERT_TRUE(TokenService::Rotate(*store_, "HS256"));
  auto svc = TokenService::Open(*store_);
  ASSERT_TRUE(svc);
  const auto token = (*svc)->Sign(Claims(), 3600);
  EXPECT_EQ(token.rfind(Base64UrlEncode(R"({"alg":"HS256")"), 0), 0u);
  auto c = (*svc)->Verify(token);
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_EQ(c->record_id, "abc");
  // Tampering fails; the JWKS has only the (retired) Ed25519 key.
  std::string tampered = token;
  tampered[tampered.size() - 2] = tampered[tampered.size() - 2] == 'A' ? 'B' : 'A';
  EXPECT_FALSE((*svc)->Verify(tampered));
  const auto jwks = (*svc)->Jwks();
  for (const auto& k : jwks.at("keys").as_array()) EXPECT_EQ(k.at("alg"), "EdDSA");
}

TEST_F(TokenTest, AnEd25519KidCannotBeUsedWithHs256) {
  // The classic confusion: HS256 "signed" with the Ed25519 public key, under that key's kid.
  const auto jwks = svc_->Jwks().at("keys").as_array();
  const std::string kid(jwks.at(0).at("kid").as_string());
  const std::string pub = *Base64UrlDecode(jwks.at(0).at("x").as_string());
  const std::string forged = Hs256(R"({"alg":"HS256","typ":"JWT","kid":")" + kid + R"("})",
                                   R"({"id":"abc","collectionId":"pbc_1","type":"auth","exp":9999999999})", pub);
  EXPECT_FALSE(svc_->Verify(forged));
}

TEST(ConstantTimeEqualsTest, Compares) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace strata::auth
