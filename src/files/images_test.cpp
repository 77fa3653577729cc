#include "files/images.hpp"

#include <gtest/gtest.h>
#include <vips/vips.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "files/mime.hpp"

namespace strata::files {
namespace {

namespace fs = std::filesystem;

class ImagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitImages().ok());
    dir_ = fs::temp_directory_path() /
           ("strata_images_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A w x h colour gradient saved as `name` (the suffix picks the format).
  fs::path Gradient(const std::string& name, int w, int h) {
    std::vector<uint8_t> px;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        px.push_back(static_cast<uint8_t>(255 * x / (w - 1)));
        px.push_back(static_cast<uint8_t>(255 * y / (h - 1)));
        px.push_back(128);
      }
    }
    VipsImage* img = vips_image_new_from_memory_copy(px.data(), px.size(), w, h, 3, VIPS_FORMAT_UCHAR);
    EXPECT_NE(img, nullptr);
    const fs::path path = dir_ / name;
    EXPECT_EQ(vips_image_write_to_file(img, path.c_str(), nullptr), 0) << vips_error_buffer();
    g_object_unref(img);
    return path;
  }

  ImageSize SizeOf(const std::string& bytes) {
    const fs::path path = dir_ / "out.bin";
    std::ofstream(path, std::ios::binary) << bytes;
    auto size = ProbeImage(path);
    EXPECT_TRUE(size) << size.error().ToString();
    return size.value_or(ImageSize{});
  }

  fs::path dir_;
};

TEST(Thumbs, PocketBaseSizes) {
  auto t = ParseThumb("100x50t");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->width, 100);
  EXPECT_EQ(t->height, 50);
  EXPECT_EQ(t->mode, 't');
  EXPECT_EQ(ParseThumb("100x100")->mode, 'c');
  EXPECT_EQ(ParseThumb("0x300")->width, 0);
  EXPECT_EQ(ParseThumb("300x0")->height, 0);
  for (const char* bad :
       {"", "x", "100", "0x0", "100x", "x100", "-1x10", "10x10z", "10x10tt", "0x10f", "99999x10", "10 x10"}) {
    EXPECT_FALSE(ParseThumb(bad)) << bad;
  }
}

TEST_F(ImagesTest, ProbesTheHeaderAndRefusesBombsAndNonImages) {
  const auto jpg = Gradient("g.jpg", 400, 300);
  auto size = ProbeImage(jpg);
  ASSERT_TRUE(size) << size.error().ToString();
  EXPECT_EQ(size->width, 400);
  EXPECT_EQ(size->height, 300);
  EXPECT_EQ(ProbeImage(jpg, 1000).error().code(), util::Status::Code::kInvalidArgument);
  const fs::path text = dir_ / "not-an-image.jpg";
  std::ofstream(text) << "<?php echo 'hi'; ?>";
  EXPECT_EQ(ProbeImage(text).error().code(), util::Status::Code::kInvalidArgument);
  EXPECT_FALSE(MakeThumbnail(text, *ParseThumb("10x10"), "image/jpeg"));
  EXPECT_FALSE(ImageBlurHash(text));
  // Truncated: the header reads, the pixels do not.
  const auto png = Gradient("g.png", 400, 300);
  std::string bytes;
  {
    std::ifstream in(png, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  std::ofstream(dir_ / "cut.png", std::ios::binary) << bytes.substr(0, bytes.size() / 3);
  EXPECT_FALSE(MakeThumbnail(dir_ / "cut.png", *ParseThumb("50x50"), "image/png"));
  // An upload of it is measured (its size is known) but has no BlurHash.
  auto cut = MeasureImage(dir_ / "cut.png");
  ASSERT_TRUE(cut) << cut.error().ToString();
  EXPECT_EQ(cut->size.width, 400);
  EXPECT_TRUE(cut->blurhash.empty());
  EXPECT_FALSE(MeasureImage(text));
}

TEST_F(ImagesTest, MeasuresUploads) {
  const auto jpg = Gradient("g.jpg", 400, 300);
  auto facts = MeasureImage(jpg);
  ASSERT_TRUE(facts) << facts.error().ToString();
  EXPECT_EQ(facts->size.width, 400);
  EXPECT_EQ(facts->size.height, 300);
  EXPECT_EQ(facts->blurhash, ImageBlurHash(jpg).value_or(""));
}

TEST_F(ImagesTest, ThumbnailsHaveTheAskedSizesAndFormat) {
  const auto jpg = Gradient("g.jpg", 400, 300);
  struct Case {
    const char* spec;
    int w, h;
  };
  for (const Case& c : std::vector<Case>{{"100x100", 100, 100},
                                         {"100x50t", 100, 50},
                                         {"100x50b", 100, 50},
                                         {"100x100f", 100, 75},
                                         {"0x150", 200, 150},
                                         {"120x0", 120, 90}}) {
    auto thumb = MakeThumbnail(jpg, *ParseThumb(c.spec), "image/jpeg");
    ASSERT_TRUE(thumb) << c.spec << ": " << thumb.error().ToString();
    EXPECT_EQ(DetectMimeType(*thumb), "image/jpeg") << c.spec;
    const auto size = SizeOf(*thumb);
    EXPECT_EQ(size.width, c.w) << c.spec;
    EXPECT_EQ(size.height, c.h) << c.spec;
  }
  const auto png = Gradient("g.png", 64, 48);
  auto thumb = MakeThumbnail(png, *ParseThumb("32x32"), "image/png");
  ASSERT_TRUE(thumb);
  EXPECT_EQ(DetectMimeType(*thumb), "image/png");
}

TEST_F(ImagesTest, BlurHashOfAnImage) {
  auto hash = ImageBlurHash(Gradient("g.jpg", 400, 300));
  ASSERT_TRUE(hash) << hash.error().ToString();
  EXPECT_EQ(hash->size(), 28u);  // 4 x 3 components
  EXPECT_EQ(hash->front(), 'L');
  // The same picture in another format and size gives nearly the same hash: the DC (average
  // colour) characters agree.
  auto png = ImageBlurHash(Gradient("g.png", 200, 150));
  ASSERT_TRUE(png);
  EXPECT_EQ(png->substr(2, 3), hash->substr(2, 3));
}

}  // namespace
}  // namespace strata::files
