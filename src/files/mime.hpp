// The type of a file from its content (its magic bytes), never from what the client claims.
#pragma once

#include <string>
#include <string_view>

namespace strata::files {

// How many leading bytes DetectMimeType needs to decide.
inline constexpr std::size_t kMimeSniffBytes = 8192;

// The MIME type of content that starts with `head` (give at least kMimeSniffBytes when there are
// that many), as libmagic recognizes it: "image/jpeg", "image/png", "application/pdf", … ;
// "application/octet-stream" when it cannot tell, "text/plain" for plain text. Thread-safe.
std::string DetectMimeType(std::string_view head);

}  // namespace strata::files
