#include "files/mime.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace strata::files {
namespace {

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s += static_cast<char>(c);
  return s;
}

TEST(Mime, FromTheContentNotTheName) {
  // The 1x1 PNG and GIF and a JPEG/JFIF header: what uploads start with.
  const std::string png = Bytes({0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 'I',  'H',  'D',  'R', 0,
                                 0,    0,   1,   0,   0,    0,    1,    8,    6, 0, 0, 0,    0x1f, 0x15, 0xc4, 0x89});
  EXPECT_EQ(DetectMimeType(png), "image/png");
  EXPECT_EQ(DetectMimeType("GIF89a\x01\x00\x01\x00\x80\x00\x00"), "image/gif");
  const std::string jpeg = Bytes({0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0});
  EXPECT_EQ(DetectMimeType(jpeg), "image/jpeg");
  EXPECT_EQ(DetectMimeType(std::string("RIFF\x24\x00\x00\x00WEBPVP8 ", 16)), "image/webp");
  EXPECT_EQ(DetectMimeType("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), "application/pdf");
  EXPECT_EQ(DetectMimeType("just some words\n"), "text/plain");
  EXPECT_EQ(DetectMimeType(""), "application/octet-stream");
  EXPECT_EQ(DetectMimeType(Bytes({0x00, 0x13, 0x37, 0xfe, 0x02, 0x91})), "application/octet-stream");
  // A script that calls itself a picture is still a script.
  EXPECT_NE(DetectMimeType("<?php system($_GET['c']); ?>").rfind("image/", 0), 0u);
}

TEST(Mime, FromManyThreads) {
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (DetectMimeType("GIF89a\x01\x00\x01\x00\x80\x00\x00") != "image/gif") wrong.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace strata::files
