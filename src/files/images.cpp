#include "files/images.hpp"

#include <fmt/format.h>
#include <vips/vips.h>

#include <charconv>
#include <memory>
#include <mutex>
#include <vector>

#include "files/blurhash.hpp"

namespace strata::files {
namespace {

struct Unref {
  void operator()(VipsImage* image) const { g_object_unref(image); }
};
using Image = std::unique_ptr<VipsImage, Unref>;

util::Status VipsError(std::string_view what) {
  std::string detail = vips_error_buffer();
  vips_error_clear();
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
  return util::Status::InvalidArgument(fmt::format("{}: {}", what, detail.empty() ? "not a readable image" : detail));
}

// Opens `file` lazily (the header only), refusing images over `max_pixels`.
util::Result<Image> Open(const std::filesystem::path& file, int64_t max_pixels) {
  if (auto st = InitImages(); !st.ok()) return std::unexpected(st);
  VipsImage* raw = vips_image_new_from_file(file.c_str(), "access", VIPS_ACCESS_SEQUENTIAL, nullptr);
  if (!raw) return std::unexpected(VipsError("cannot read the image"));
  Image image(raw);
  const int64_t pixels = int64_t{vips_image_get_width(raw)} * vips_image_get_height(raw);
  if (pixels <= 0 || pixels > max_pixels) {
    return std::unexpected(util::Status::InvalidArgument(
        fmt::format("the image has {} pixels, more than the {} allowed", pixels, max_pixels)));
  }
  return image;
}

// The saver suffix for a MIME type libvips can write.
const char* SaverFor(std::string_view mime) {
  if (mime == "image/jpeg") return ".jpg[Q=85,strip]";
  if (mime == "image/webp") return ".webp[Q=85,strip]";
  if (mime == "image/gif") return ".gif";
  return ".png[strip]";
}

}  // namespace

util::Status InitImages() {
  static const util::Status status = [] {
    if (VIPS_INIT("strata") != 0) return VipsError("cannot start libvips");
    // Loaders that are not fuzzed for hostile input (ImageMagick, MATLAB, …) stay off.
    vips_block_untrusted_set(TRUE);
    // Files are read once each: libvips' operation cache would only hold memory.
    vips_cache_set_max(0);
    return util::Status::Ok();
  }();
  return status;
}

util::Result<ImageSize> ProbeImage(const std::filesystem::path& file, int64_t max_pixels) {
  auto image = Open(file, max_pixels);
  if (!image) return std::unexpected(image.error());
  return ImageSize{vips_image_get_width(image->get()), vips_image_get_height(image->get())};
}

std::optional<ThumbSpec> ParseThumb(std::string_view text) {
  ThumbSpec spec;
  const auto x = text.find('x');
  if (x == std::string_view::npos || x == 0) return std::nullopt;
  std::string_view h = text.substr(x + 1);
  if (!h.empty() && (h.back() == 't' || h.back() == 'b' || h.back() == 'f')) {
    spec.mode = h.back();
    h.remove_suffix(1);
  }
  auto number = [](std::string_view s, int& out) {
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size() && out >= 0 && out <= 10000;
  };
  if (!number(text.substr(0, x), spec.width) || !number(h, spec.height)) return std::nullopt;
  if (spec.width == 0 && spec.height == 0) return std::nullopt;
  // One side left free keeps the ratio; the modes only apply to a box.
  if ((spec.width == 0 || spec.height == 0) && spec.mode != 'c') return std::nullopt;
  return spec;
}

util::Result<std::string> MakeThumbnail(const std::filesystem::path& file, const ThumbSpec& spec,
                                        std::string_view mime_type) {
  // The size check, header only, before anything is decoded.
  if (auto probe = Open(file, kMaxImagePixels); !probe) return std::unexpected(probe.error());
  VipsImage* out = nullptr;
  const int width = spec.width > 0 ? spec.width : VIPS_MAX_COORD;
  const int height = spec.height > 0 ? spec.height : VIPS_MAX_COORD;
  int rc = 0;
  if (spec.width == 0 || spec.height == 0 || spec.mode == 'f') {
    rc = vips_thumbnail(file.c_str(), &out, width, "height", height, "fail_on", VIPS_FAIL_ON_ERROR, nullptr);
  } else {
    const VipsInteresting crop = spec.mode == 't'   ? VIPS_INTERESTING_LOW
                                 : spec.mode == 'b' ? VIPS_INTERESTING_HIGH
                                                    : VIPS_INTERESTING_CENTRE;
    rc = vips_thumbnail(file.c_str(), &out, width, "height", height, "crop", crop, "fail_on", VIPS_FAIL_ON_ERROR,
                        nullptr);
  }
  if (rc != 0) return std::unexpected(VipsError("cannot make the thumbnail"));
  Image thumb(out);
  void* buf = nullptr;
  size_t len = 0;
  if (vips_image_write_to_buffer(thumb.get(), SaverFor(mime_type), &buf, &len, nullptr) != 0) {
    return std::unexpected(VipsError("cannot encode the thumbnail"));
  }
  std::string bytes(static_cast<const char*>(buf), len);
  g_free(buf);
  return bytes;
}

namespace {

// The BlurHash of an image already checked against the pixel limit.
util::Result<std::string> BlurHashOf(const std::filesystem::path& file) {
  VipsImage* small = nullptr;
  if (vips_thumbnail(file.c_str(), &small, 32, "height", 32, "fail_on", VIPS_FAIL_ON_ERROR, nullptr) != 0) {
    return std::unexpected(VipsError("cannot shrink the image"));
  }
  Image image(small);
  // 8-bit sRGB, three bands, transparency flattened onto white.
  VipsImage* step = nullptr;
  if (vips_colourspace(image.get(), &step, VIPS_INTERPRETATION_sRGB, nullptr) != 0) {
    return std::unexpected(VipsError("cannot convert the colours"));
  }
  image.reset(step);
  if (vips_image_hasalpha(image.get())) {
    VipsArrayDouble* white = vips_array_double_newv(1, 255.0);
    const int rc = vips_flatten(image.get(), &step, "background", white, nullptr);
    vips_area_unref(VIPS_AREA(white));
    if (rc != 0) return std::unexpected(VipsError("cannot flatten the image"));
    image.reset(step);
  }
  if (vips_image_get_bands(image.get()) > 3) {
    if (vips_extract_band(image.get(), &step, 0, "n", 3, nullptr) != 0) {
      return std::unexpected(VipsError("cannot take the colour bands"));
    }
    image.reset(step);
  }
  if (vips_cast_uchar(image.get(), &step, nullptr) != 0) return std::unexpected(VipsError("cannot convert the pixels"));
  image.reset(step);
  size_t len = 0;
  void* mem = vips_image_write_to_memory(image.get(), &len);
  if (!mem) return std::unexpected(VipsError("cannot read the pixels"));
  std::unique_ptr<void, decltype(&g_free)> pixels(mem, &g_free);
  const int w = vips_image_get_width(image.get());
  const int h = vips_image_get_height(image.get());
  if (vips_image_get_bands(image.get()) != 3 || len != static_cast<size_t>(w) * h * 3) {
    return std::unexpected(util::Status::InvalidArgument("unexpected pixel layout"));
  }
  auto hash = BlurHash(std::span(static_cast<const uint8_t*>(mem), len), w, h, 4, 3);
  if (hash.empty()) return std::unexpected(util::Status::InvalidArgument("cannot compute the BlurHash"));
  return hash;
}

}  // namespace

util::Result<std::string> ImageBlurHash(const std::filesystem::path& file) {
  if (auto probe = Open(file, kMaxImagePixels); !probe) return std::unexpected(probe.error());
  return BlurHashOf(file);
}

util::Result<ImageFacts> MeasureImage(const std::filesystem::path& file) {
  auto image = Open(file, kMaxImagePixels);
  if (!image) return std::unexpected(image.error());
  ImageFacts facts{{vips_image_get_width(image->get()), vips_image_get_height(image->get())}, {}};
  image->reset();
  if (auto hash = BlurHashOf(file)) facts.blurhash = std::move(*hash);
  return facts;
}

}  // namespace strata::files
