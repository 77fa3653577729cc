#include "http/range.hpp"

#include <gtest/gtest.h>

namespace strata::http {
namespace {

using Kind = ByteRange::Kind;

TEST(Range, TheFormsOfRfc9110) {
  auto r = ParseRange("bytes=0-99", 1000);
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 99u);
  EXPECT_EQ(r.length(), 100u);
  r = ParseRange("bytes=900-", 1000);
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first, 900u);
  EXPECT_EQ(r.last, 999u);
  r = ParseRange("bytes=-100", 1000);
  EXPECT_EQ(r.first, 900u);
  EXPECT_EQ(r.last, 999u);
  r = ParseRange("bytes=-5000", 1000);  // more than there is: all of it
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 999u);
  r = ParseRange("bytes=990-5000", 1000);  // clipped to the end
  EXPECT_EQ(r.last, 999u);
  r = ParseRange(" Bytes = 5-5 ", 1000);
  EXPECT_EQ(r.kind, Kind::kWhole);  // no space allowed around '='
  r = ParseRange("bytes=5-5", 1000);
  EXPECT_EQ(r.length(), 1u);
}

TEST(Range, UnsatisfiableAndIgnored) {
  EXPECT_EQ(ParseRange("bytes=1000-", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=2000-3000", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=-0", 1000).kind, Kind::kUnsatisfiable);
  EXPECT_EQ(ParseRange("bytes=0-", 0).kind, Kind::kUnsatisfiable);
  for (const char* ignored : {"", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-1", "items=0-1", "bytes=0-1,5-9",
                              "bytes=1-2-3", "bytes=18446744073709551616-"}) {
    EXPECT_EQ(ParseRange(ignored, 1000).kind, Kind::kWhole) << ignored;
  }
}

}  // namespace
}  // namespace strata::http
