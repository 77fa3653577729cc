// Images, with libvips: size checks that never decode a whole image, PocketBase's thumbnail
// sizes, and the BlurHash of an image. libvips streams and works in tiles, so memory stays small
// whatever the image; loaders that are not safe for untrusted input are blocked.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "util/status.hpp"

namespace strata::files {

// The largest image accepted, in pixels (a decompression bomb declares far more).
inline constexpr int64_t kMaxImagePixels = 50'000'000;

// Starts libvips (once; later calls return the first outcome). Thread-safe.
util::Status InitImages();

struct ImageSize {
  int width = 0;
  int height = 0;
};

// The size of the image in `file`, from its header. InvalidArgument when it is not an image
// libvips reads, or has more than `max_pixels` pixels.
util::Result<ImageSize> ProbeImage(const std::filesystem::path& file, int64_t max_pixels = kMaxImagePixels);

// A thumbnail size as PocketBase writes it: "WxH" (fill, cropped around the centre), "WxHt" (from
// the top), "WxHb" (from the bottom), "WxHf" (fit inside, not cropped), "0xH" and "Wx0" (one side
// fixed, the other keeping the ratio).
struct ThumbSpec {
  int width = 0;
  int height = 0;
  char mode = 'c';  // 'c' centre, 't' top, 'b' bottom, 'f' fit
};
std::optional<ThumbSpec> ParseThumb(std::string_view text);

// A thumbnail of the image in `file`, encoded like the original where libvips can write that
// format (JPEG, PNG, WebP, GIF) and as PNG otherwise. Orientation from EXIF is applied, and
// metadata is stripped. A truncated or corrupt image is an error, not a partly grey thumbnail.
util::Result<std::string> MakeThumbnail(const std::filesystem::path& file, const ThumbSpec& spec,
                                        std::string_view mime_type);

// The BlurHash (4 x 3 components) of the image in `file`, computed on a 32-pixel thumbnail.
util::Result<std::string> ImageBlurHash(const std::filesystem::path& file);

// What an upload records of an image: its size (checked against the pixel limit: an error when
// over it or unreadable) and its BlurHash (empty when the pixels cannot be decoded: a damaged
// image is still a file).
struct ImageFacts {
  ImageSize size;
  std::string blurhash;
};
util::Result<ImageFacts> MeasureImage(const std::filesystem::path& file);

}  // namespace strata::files
