#include "http/compress.hpp"

#include <gtest/gtest.h>

namespace strata::http {
namespace {

struct AcceptCase {
  const char* header;
  bool gzip;
};
class AcceptsGzipTest : public ::testing::TestWithParam<AcceptCase> {};

TEST_P(AcceptsGzipTest, Parses) { EXPECT_EQ(AcceptsGzip(GetParam().header), GetParam().gzip) << GetParam().header; }

INSTANTIATE_TEST_SUITE_P(Cases, AcceptsGzipTest,
                         ::testing::Values(AcceptCase{"gzip", true}, AcceptCase{"gzip, deflate, br", true},
                                           AcceptCase{"br;q=1.0, GZIP;q=0.5", true}, AcceptCase{"gzip;q=0", false},
                                           AcceptCase{"deflate", false}, AcceptCase{"*", true},
                                           AcceptCase{"*;q=0", false}, AcceptCase{"*, gzip;q=0", false},
                                           AcceptCase{"identity", false}, AcceptCase{"", false}));

TEST(GzipTest, RoundTrips) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "{\"id\":" + std::to_string(i) + ",\"title\":\"hello\"},";
  auto gz = Gzip(text);
  ASSERT_TRUE(gz);
  EXPECT_LT(gz->size(), text.size() / 4);
  EXPECT_EQ(static_cast<unsigned char>((*gz)[0]), 0x1f);  // gzip magic
  EXPECT_EQ(static_cast<unsigned char>((*gz)[1]), 0x8b);
  EXPECT_EQ(Gunzip(*gz), text);
}

TEST(GzipTest, GunzipRejectsGarbage) { EXPECT_FALSE(Gunzip("not gzip at all")); }

}  // namespace
}  // namespace strata::http
