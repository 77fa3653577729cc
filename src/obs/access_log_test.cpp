#include "obs/access_log.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <random>
#include <string>

namespace strata::obs {
namespace {

std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

TEST(AccessLogTest, WritesOneJsonLinePerEntryOnFlush) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    AccessLog log(fds[1]);
    AccessLog::Buffer buf(log);
    buf.Append({.request_id = "abc",
                .method = "GET",
                .route = "/api/health",
                .path = "/api/health",
                .status = 200,
                .bytes = 51,
                .duration_us = 12,
                .remote = "127.0.0.1"});
    buf.Append({.request_id = "q\"x", .method = "POST", .route = "/a\nb", .status = 400, .remote = "::1"});
  }  // the buffer flushes as it goes out of scope
  close(fds[1]);
  const auto out = ReadAll(fds[0]);
  close(fds[0]);
  const auto first_end = out.find('\n');
  ASSERT_NE(first_end, std::string::npos);
  const auto first = out.substr(0, first_end);
  EXPECT_EQ(first.rfind("{\"time\":\"", 0), 0u);
  EXPECT_NE(
      first.find("Z\",\"request_id\":\"abc\",\"method\":\"GET\",\"route\":\"/api/health\",\"path\":\"/api/health\","
                 "\"status\":200,"
                 "\"bytes\":51,\"duration_us\":12,\"remote\":\"127.0.0.1\"}"),
      std::string::npos)
      << first;
  EXPECT_NE(out.find("\"request_id\":\"q\\\"x\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"route\":\"/a\\nb\""), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2);
}

TEST(AccessLogTest, EscapesAtEveryPosition) {
  // Long plain runs (taken 16 bytes at a time) with each special character at every offset.
  for (char special : {'"', '\\', '\n', '\x01', '\x1f'}) {
    for (std::size_t pos = 0; pos < 40; ++pos) {
      std::string in(40, 'a');
      in[pos] = special;
      std::string out;
      AppendJsonEscaped(out, in);
      std::string expected = std::string(pos, 'a');
      switch (special) {
        case '"':
          expected += "\\\"";
          break;
        case '\\':
          expected += "\\\\";
          break;
        case '\n':
          expected += "\\n";
          break;
        case '\x01':
          expected += "\\u0001";
          break;
        default:
          expected += "\\u001f";
      }
      expected += std::string(40 - pos - 1, 'a');
      EXPECT_EQ(out, expected) << pos;
    }
  }
  std::string utf8;
  AppendJsonEscaped(utf8, "\xc3\xa4\xc3\xb6\xc3\xbc plain text that is longer than sixteen bytes \xe2\x9c\x93");
  EXPECT_EQ(utf8, "\xc3\xa4\xc3\xb6\xc3\xbc plain text that is longer than sixteen bytes \xe2\x9c\x93");
}

TEST(AccessLogTest, EscapesLongAndRandomTextAsAPlainLoopWould) {
  auto reference = [](std::string_view in) {
    std::string out;
    for (const char ch : in) {
      const auto c = static_cast<unsigned char>(ch);
      if (c == '"') {
        out += "\\\"";
      } else if (c == '\\') {
        out += "\\\\";
      } else if (c == '\n') {
        out += "\\n";
      } else if (c == '\r') {
        out += "\\r";
      } else if (c == '\t') {
        out += "\\t";
      } else if (c < 0x20) {
        out += fmt::format("\\u{:04x}", c);
      } else {
        out += ch;
      }
    }
    return out;
  };
  std::mt19937 rng(7);
  for (const std::size_t size : {std::size_t{0}, std::size_t{15}, std::size_t{16}, std::size_t{4095}, std::size_t{4096},
                                 std::size_t{4097}, std::size_t{10000}}) {
    for (const int specials_per_1000 : {0, 3, 500, 1000}) {
      std::string in(size, 'x');
      for (auto& ch : in) {
        if (static_cast<int>(rng() % 1000) < specials_per_1000) {
          static constexpr char kSpecial[] = {'"', '\\', '\n', '\r', '\t', '\x01', '\x1f', '\0'};
          ch = kSpecial[rng() % sizeof kSpecial];
        } else {
          ch = static_cast<char>(0x20 + rng() % 0x60);
        }
      }
      // Room for the worst case taken at once, and counted exactly where the string has none.
      for (const std::size_t reserved : {std::size_t{0}, 7 + 6 * size}) {
        std::string out = "prefix:";
        out.reserve(reserved);
        AppendJsonEscaped(out, in);
        EXPECT_EQ(out, "prefix:" + reference(in)) << size << " " << specials_per_1000 << " " << reserved;
      }
    }
  }
}

TEST(AccessLogTest, EscapesControlCharacters) {
  std::string out;
  AppendJsonEscaped(out, std::string_view("a\x01\tb", 4));
  EXPECT_EQ(out, "a\\u0001\\tb");
}

TEST(AccessLogTest, DisabledLogWritesNothing) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  {
    AccessLog log(fds[1], /*enabled=*/false);
    AccessLog::Buffer buf(log);
    buf.Append({.request_id = "abc", .method = "GET", .route = "/", .status = 200});
  }
  close(fds[1]);
  EXPECT_EQ(ReadAll(fds[0]), "");
  close(fds[0]);
}

}  // namespace
}  // namespace strata::obs
