#include "http/etag.hpp"

#include <gtest/gtest.h>

namespace strata::http {
namespace {

TEST(ETag, IsQuotedStableAndSensitiveToEveryByte) {
  const std::string a = ETagOf(R"({"id":"abc"})");
  EXPECT_EQ(a.size(), 34u);
  EXPECT_EQ(a.front(), '"');
  EXPECT_EQ(a.back(), '"');
  EXPECT_EQ(a, ETagOf(R"({"id":"abc"})"));
  EXPECT_NE(a, ETagOf(R"({"id":"abd"})"));
  EXPECT_NE(ETagOf(""), ETagOf(std::string(1, '\0')));
}

TEST(ETag, IfNoneMatchUsesWeakComparison) {
  const std::string tag = ETagOf("body");
  EXPECT_TRUE(IfNoneMatch(tag, tag));
  EXPECT_TRUE(IfNoneMatch("W/" + tag, tag));
  EXPECT_TRUE(IfNoneMatch("\"x\", " + tag + " ,\"y\"", tag));
  EXPECT_TRUE(IfNoneMatch("*", tag));
  EXPECT_TRUE(IfNoneMatch(GzipETag(tag), tag));
  EXPECT_TRUE(IfNoneMatch(tag, GzipETag(tag)));
  EXPECT_FALSE(IfNoneMatch(ETagOf("other"), tag));
  EXPECT_FALSE(IfNoneMatch("", tag));
  EXPECT_FALSE(IfNoneMatch(" , ", tag));
  EXPECT_FALSE(IfNoneMatch(tag.substr(1, tag.size() - 2) + "x", tag));
}

TEST(ETag, GzipTagDiffersFromTheIdentityTag) {
  const std::string tag = ETagOf("body");
  EXPECT_NE(GzipETag(tag), tag);
  EXPECT_TRUE(GzipETag(tag).ends_with("-gzip\""));
  EXPECT_EQ(GzipETag(GzipETag(tag)), GzipETag(tag));
  EXPECT_EQ(IdentityETag(GzipETag(tag)), tag);
  EXPECT_EQ(IdentityETag(tag), tag);
}

}  // namespace
}  // namespace strata::http
