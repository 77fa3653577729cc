#include "util/random.hpp"

#include <gtest/gtest.h>

#include <regex>
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

// Each generated string matches its pattern (checked with std::regex), many times over.
TEST(RandomTest, StringsByPatternMatchTheirPattern) {
  for (const char* pattern : {"[a-z0-9]{15}", "^[0-9]{6}$", "[A-Z]{3}-\\d{4}", "ab?c*d+", "[a-fA-F0-9_.-]{2,5}x",
                              "\\w{8}", ".{3}", "[\\d]{1,}", "a{0}b"}) {
    const std::regex re(pattern);
    for (int i = 0; i < 200; ++i) {
      const auto s = RandomStringByPattern(pattern);
      ASSERT_TRUE(s) << pattern;
      EXPECT_TRUE(std::regex_search(*s, re)) << pattern << " gave " << *s;
    }
  }
  EXPECT_EQ(RandomStringByPattern("[0-9]{6}")->size(), 6u);
  EXPECT_EQ(RandomStringByPattern("x{2,4}").value_or("").find_first_not_of('x'), std::string::npos);
}

TEST(RandomTest, StringsByPatternRefuseWhatTheyCannotMake) {
  for (const char* pattern : {"(ab|cd){3}", "[^a]", "a|b", "[z-a]", "[abc", "x{5000}", "a{3,1}", "\\s", "*a"}) {
    EXPECT_FALSE(RandomStringByPattern(pattern)) << pattern;
  }
}

}  // namespace
}  // namespace strata::util
