#include "util/random.hpp"

#include <gtest/gtest.h>

#include <set>

namespace strata::util {
namespace {

TEST(RandomTest, RequestIdsHaveTheDocumentedShapeAndDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = NewRequestId();
    ASSERT_EQ(id.size(), 20u);
    ASSERT_TRUE(IsValidRequestId(id));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(RandomTest, RandomStringUsesOnlyTheAlphabet) {
  auto s = RandomString(4096, "ab");
  int a = 0;
  for (char c : s) {
    ASSERT_TRUE(c == 'a' || c == 'b');
    a += c == 'a';
  }
  // Both letters appear in roughly equal numbers (binomial, 4096 draws: far inside 10 sigma).
  EXPECT_GT(a, 1700);
  EXPECT_LT(a, 2400);
}

struct IdCase {
  const char* id;
  bool valid;
};

class RequestIdValidity : public ::testing::TestWithParam<IdCase> {};

TEST_P(RequestIdValidity, Classifies) { EXPECT_EQ(IsValidRequestId(GetParam().id), GetParam().valid); }

INSTANTIATE_TEST_SUITE_P(Cases, RequestIdValidity,
                         ::testing::Values(IdCase{"abc-123", true}, IdCase{"6f1c:2.b_A", true}, IdCase{"", false},
                                           IdCase{"has space", false}, IdCase{"new\nline", false},
                                           IdCase{"<script>", false}));

TEST(RandomTest, RequestIdLengthLimit) {
  EXPECT_TRUE(IsValidRequestId(std::string(128, 'x')));
  EXPECT_FALSE(IsValidRequestId(std::string(129, 'x')));
}

}  // namespace
}  // namespace strata::util
