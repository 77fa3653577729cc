#include "auth/token.hpp"

#include <gtest/gtest.h>
#include <sodium.h>

#include <boost/json/serialize.hpp>
#include <filesystem>

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
    return {.record_id = "abc", .collection_id = "pbc_1", .type = "auth", .key_fingerprint = TokenKeyFingerprint("k1"),
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
  const std::string other_payload = Base64UrlEncode(R"({"collectionId":"pbc_1","exp":9999999999,"id":"admin","refreshable":true,"type":"auth"})");
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
  EXPECT_FALSE(svc_->Verify(hs_input + "." + Base64UrlEncode(std::string_view(reinterpret_cast<char*>(mac), sizeof mac))));
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

TEST(ConstantTimeEqualsTest, Compares) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace strata::auth
