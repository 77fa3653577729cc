#include "files/blurhash.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata::files {
namespace {

std::vector<uint8_t> Image(const std::string& kind, int w, int h) {
  std::vector<uint8_t> px;
  int64_t seed = 12345;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      int r = 0, g = 0, b = 0;
      if (kind == "solid") {
        r = 200, g = 30, b = 90;
      } else if (kind == "gradient") {
        r = 255 * x / (w - 1), g = 255 * y / (h - 1), b = 128;
      } else {
        seed = (seed * 75 + 74) % 65537;
        r = static_cast<int>(seed % 256), g = static_cast<int>(seed * 7 % 256), b = static_cast<int>(seed * 13 % 256);
      }
      px.push_back(static_cast<uint8_t>(r));
      px.push_back(static_cast<uint8_t>(g));
      px.push_back(static_cast<uint8_t>(b));
    }
  }
  return px;
}

// Expected values from the `blurhash` npm package's encoder on the same images, where its result
// agrees with the original C encoder: the solid, noise and single-component cases. On the gradient
// that package scales the components by their largest signed value, which clips the negative
// ones; this encoder, as the C one, by their largest magnitude. Its gradient hashes below decode
// (with that package's decoder) to within 6.5/255 per channel of the image, against 38.5/255 for the
// clipped ones.
TEST(BlurHash, MatchesTheReferenceEncoder) {
  struct Case {
    const char* kind;
    int w, h, cx, cy;
    const char* hash;
  };
  for (const Case& c : std::vector<Case>{
           {"solid", 8, 6, 4, 3, "LVM^#v]VfQ]V|zsVfQsVfQfQfQfQ"},
           {"noise", 20, 20, 5, 4, "VAHe,x-EEe?u5W.ROr+vkrxvY1Rz,[PPr;~Wm^k##qMS"},
           {"gradient", 16, 16, 1, 1, "00Hx$b"},
           {"gradient", 32, 24, 4, 3, "L$HewF2swxX8l}WDjte;gJfjfQfj"},
       }) {
    EXPECT_EQ(BlurHash(Image(c.kind, c.w, c.h), c.w, c.h, c.cx, c.cy), c.hash) << c.kind << " " << c.cx << "x" << c.cy;
  }
  // Nine by nine components: 2 + 4 + 80 × 2 characters.
  EXPECT_EQ(BlurHash(Image("gradient", 9, 7), 9, 7, 9, 9).size(), 166u);
}

TEST(BlurHash, RefusesArgumentsOutOfRange) {
  const auto px = Image("solid", 4, 4);
  EXPECT_EQ(BlurHash(px, 4, 4, 0, 3), "");
  EXPECT_EQ(BlurHash(px, 4, 4, 10, 3), "");
  EXPECT_EQ(BlurHash(px, 4, 5, 4, 3), "");  // size does not match the pixels
  EXPECT_EQ(BlurHash({}, 0, 0, 4, 3), "");
}

}  // namespace
}  // namespace strata::files
