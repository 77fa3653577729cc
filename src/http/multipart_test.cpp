#include "http/multipart.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace strata::http {
namespace {

namespace fs = std::filesystem;

class MultipartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("strata_multipart_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::size_t SpoolCount() const {
    return static_cast<std::size_t>(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }

  static std::string Read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  MultipartLimits Limits(uint64_t file_limit, std::size_t text_limit = 1 << 20) {
    return {[file_limit](std::string_view) { return file_limit; }, text_limit};
  }

  fs::path dir_;
};

const std::string kBody =
    "preamble\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHello\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\na\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"tags\"\r\n\r\nb\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"doc\"; filename=\"a;b \\\"q\\\".txt\"\r\n"
    "Content-Type: text/plain\r\n\r\nline one\r\n--XyNot the delimiter\r\n"
    "--XyZ\r\nContent-Disposition: form-data; name=\"@jsonPayload\"\r\n\r\n{\"n\":1}\r\n"
    "--XyZ--\r\nepilogue";

// Every split of the body into two feeds, and byte by byte, gives the same parts.
TEST_F(MultipartTest, ParsesAcrossAnyChunking) {
  std::vector<std::size_t> steps = {1, 2, 3, 7, 64, kBody.size()};
  for (std::size_t step : steps) {
    MultipartParser parser("XyZ", dir_, Limits(1000));
    for (std::size_t i = 0; i < kBody.size(); i += step) {
      ASSERT_FALSE(parser.Feed(std::string_view(kBody).substr(i, step))) << step;
    }
    auto r = parser.Finish();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->data.at("title").as_string(), "Hello");
    EXPECT_EQ(r->data.at("tags").as_array().size(), 2u);
    EXPECT_EQ(r->data.at("n").as_int64(), 1);
    ASSERT_EQ(r->files.size(), 1u);
    EXPECT_EQ(r->files[0].field, "doc");
    EXPECT_EQ(r->files[0].filename, "a;b \"q\".txt");
    const std::string content = "line one\r\n--XyNot the delimiter";
    EXPECT_EQ(r->files[0].size, content.size());
    EXPECT_EQ(r->files[0].head, content);
    EXPECT_EQ(Read(r->files[0].spooled->path()), content);
  }
  EXPECT_EQ(SpoolCount(), 0u);  // the spooled files went with their results
}

TEST_F(MultipartTest, AFileOverItsLimitIsRefusedAsItCrossesIt) {
  MultipartParser parser("B", dir_, Limits(10));
  ASSERT_FALSE(parser.Feed("--B\r\nContent-Disposition: form-data; name=\"avatar+\"; filename=\"x.bin\"\r\n\r\n"));
  ASSERT_FALSE(parser.Feed("0123456789"));
  // The last bytes fed are held back until they are known not to start the delimiter.
  auto e = parser.Feed("XXXXXX");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 413);
  EXPECT_EQ(e->data.at("avatar").as_object().at("code").as_string(), "validation_file_size_limit");
  EXPECT_EQ(SpoolCount(), 0u);
  EXPECT_FALSE(parser.Finish());
}

TEST_F(MultipartTest, TextOverTheLimitIs413) {
  MultipartParser parser("B", dir_, Limits(10, 4));
  auto e = parser.Feed("--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabcdefgh\r\n--B--");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 413);
}

TEST_F(MultipartTest, TruncatedOrMalformedBodiesAre400AndLeaveNothing) {
  for (std::string body :
       {std::string("garbage"),
        std::string("--B\r\nContent-Disposition: form-data; name=\"a\"; filename=\"f\"\r\n\r\nno end"),
        std::string("--B\r\nno headers end"), std::string("--B\r\nContent-Disposition: form-data\r\n\r\nx\r\n--B--"),
        std::string("--Bjunk\r\n")}) {
    MultipartParser parser("B", dir_, Limits(1000));
    auto fed = parser.Feed(body);
    auto r = parser.Finish();
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().status, 400) << body;
    if (fed) {
      EXPECT_EQ(fed->status, 400);
    }
  }
  EXPECT_EQ(SpoolCount(), 0u);
}

// A part of a few bytes: `n` of them, text or (with a file name) file.
std::string Parts(std::size_t n, bool files = false) {
  std::string body;
  for (std::size_t i = 0; i < n; ++i) {
    body += "--B\r\nContent-Disposition: form-data; name=\"p" + std::to_string(i) + "\"" +
            (files ? "; filename=\"f\"" : "") + "\r\n\r\nx\r\n";
  }
  return body;
}

TEST_F(MultipartTest, PartsOverTheCountAre413AndLeaveNothing) {
  for (bool files : {false, true}) {
    MultipartLimits limits = Limits(1000);
    limits.max_parts = 3;
    {
      MultipartParser parser("B", dir_, limits);
      ASSERT_FALSE(parser.Feed(Parts(3, files) + "--B--"));
      auto r = parser.Finish();
      ASSERT_TRUE(r) << r.error().message;
    }
    MultipartParser parser("B", dir_, limits);
    auto e = parser.Feed(Parts(4, files) + "--B--");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 413);
    EXPECT_FALSE(parser.Finish());
    EXPECT_EQ(SpoolCount(), 0u);
  }
  // The default: as many parts as common servers take, no more.
  MultipartParser within("B", {}, {});
  ASSERT_FALSE(within.Feed(Parts(kMaxMultipartParts) + "--B--"));
  EXPECT_TRUE(within.Finish());
  MultipartParser over("B", {}, {});
  auto e = over.Feed(Parts(kMaxMultipartParts + 1) + "--B--");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 413);
}

// Each header block within its own bound, together over theirs: refused, whether the blocks end
// or one is still arriving.
TEST_F(MultipartTest, HeadersOfAllPartsOverTheirLimitAre413) {
  MultipartLimits limits = Limits(1000);
  limits.header_limit = 4096;
  const std::string long_name(1000, 'n');
  const std::string part = "--B\r\nContent-Disposition: form-data; name=\"" + long_name + "\"\r\n\r\n\r\n";
  {
    MultipartParser parser("B", dir_, limits);
    ASSERT_FALSE(parser.Feed(part + part + part + "--B--"));
    ASSERT_TRUE(parser.Finish());
  }
  {
    MultipartParser parser("B", dir_, limits);
    auto e = parser.Feed(part + part + part + part + part + "--B--");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 413);
  }
  {
    MultipartParser parser("B", dir_, limits);
    ASSERT_FALSE(parser.Feed(part + part + part + "--B\r\nX-Filler: "));
    auto e = parser.Feed(std::string(2000, 'x'));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 413);
  }
  // One block alone over its own bound is malformed.
  MultipartParser parser("B", dir_, {});
  auto e = parser.Feed("--B\r\nX-Filler: " + std::string(kMaxPartHeaderBytes, 'x') + "\r\n\r\n");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
}

TEST_F(MultipartTest, TransportPaddingIsBounded) {
  const std::string part = "Content-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--B--";
  for (std::string padding : {std::string(" \t "), std::string(kMaxTransportPadding, ' ')}) {
    MultipartParser parser("B", dir_, {});
    ASSERT_FALSE(parser.Feed("--B" + padding + "\r\n" + part));
    auto r = parser.Finish();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->data.at("a").as_string(), "v");
  }
  // Fed a byte at a time, endless padding is refused once over the bound, not held.
  MultipartParser parser("B", dir_, {});
  ASSERT_FALSE(parser.Feed("--B"));
  std::optional<ApiError> e;
  std::size_t fed = 0;
  while (!e && fed < 10 * kMaxTransportPadding) {
    e = parser.Feed(" ");
    ++fed;
  }
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 400);
  EXPECT_EQ(fed, kMaxTransportPadding + 1);
}

TEST_F(MultipartTest, WithoutASpoolFilesAreNotedNotKept) {
  MultipartParser parser("B", {}, {});
  ASSERT_FALSE(parser.Feed("--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nabc\r\n--B--"));
  auto r = parser.Finish();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->files.size(), 1u);
  EXPECT_EQ(r->files[0].spooled, nullptr);
  EXPECT_EQ(r->files[0].size, 3u);
}

TEST(MultipartBoundaryTest, FromTheContentType) {
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=abc").value_or(""), "abc");
  EXPECT_EQ(MultipartBoundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\"").value_or(""), "a b");
  EXPECT_FALSE(MultipartBoundary("multipart/form-data"));
  EXPECT_FALSE(MultipartBoundary("application/json; boundary=x"));
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=" + std::string(201, 'x')));
}

TEST(FieldOfPart, NamesTheFieldOfAppendAndPrependModifiers) {
  EXPECT_EQ(FieldOfPart("photos"), "photos");
  EXPECT_EQ(FieldOfPart("photos+"), "photos");
  EXPECT_EQ(FieldOfPart("+photos"), "photos");
  EXPECT_EQ(FieldOfPart("photos-"), "photos-");  // removal names files, not uploads
  EXPECT_EQ(FieldOfPart("+"), "");
}

}  // namespace
}  // namespace strata::http
