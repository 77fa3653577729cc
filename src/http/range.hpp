// Range requests (RFC 9110 §14): the byte range a client asks for, against a representation of a
// known size. One range is served; a request for several is answered whole, which the RFC allows.
#pragma once

#include <cstdint>
#include <string_view>

namespace strata::http {

struct ByteRange {
  enum class Kind {
    kWhole,          // no usable Range: 200 with everything
    kPartial,        // 206 with [first, last]
    kUnsatisfiable,  // 416, with Content-Range: bytes */size
  } kind = Kind::kWhole;
  uint64_t first = 0;
  uint64_t last = 0;  // inclusive
  uint64_t length() const { return last - first + 1; }
};

// The range of a Range header value for a representation of `size` bytes: "bytes=0-99",
// "bytes=100-", "bytes=-500". A malformed value, another unit or several ranges mean the whole
// representation; a well-formed range that starts past the end is unsatisfiable.
ByteRange ParseRange(std::string_view header, uint64_t size);

}  // namespace strata::http
