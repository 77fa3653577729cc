#include "auth/password.hpp"

#include <gtest/gtest.h>

namespace strata::auth {
namespace {

TEST(PasswordTest, HashesVerifyAndDiffer) {
  ASSERT_TRUE(InitCrypto().ok());
  auto a = HashPassword("correct horse battery");
  auto b = HashPassword("correct horse battery");
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->rfind("$argon2id$", 0), 0u) << *a;
  EXPECT_NE(*a, *b);  // salted
  EXPECT_TRUE(VerifyPassword(*a, "correct horse battery"));
  EXPECT_FALSE(VerifyPassword(*a, "correct horse batterY"));
  EXPECT_FALSE(VerifyPassword(*a, ""));
  EXPECT_FALSE(VerifyPassword("", "x"));
  EXPECT_FALSE(VerifyPassword("$argon2id$garbage", "x"));
  EXPECT_FALSE(VerifyPassword(std::string(500, 'x'), "x"));
}

TEST(PasswordTest, RandomSecrets) {
  ASSERT_TRUE(InitCrypto().ok());
  auto s = RandomSecret(50);
  EXPECT_EQ(s.size(), 50u);
  EXPECT_NE(s, RandomSecret(50));
  for (char c : s) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)));
}

}  // namespace
}  // namespace strata::auth
