// BlurHash (https://blurha.sh): a short text that stands for a blurred image, so that a client can
// paint a placeholder before the image arrives. Encodes the image's colours as a few cosine
// components, each quantised and written in base 83.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace strata::files {

// The BlurHash of an image of `width` x `height` pixels given as 8-bit RGB triples, row by row
// (`rgb.size()` == width * height * 3), with `x_components` x `y_components` components (1 to 9
// each). Empty when the arguments are out of range. Cost grows with pixels × components: pass a
// small image (a thumbnail of a few dozen pixels a side gives the same hash to the eye).
std::string BlurHash(std::span<const uint8_t> rgb, int width, int height, int x_components = 4, int y_components = 3);

}  // namespace strata::files
