// Validators for conditional GETs: a strong entity tag from the bytes of a response body, the
// If-None-Match comparison of RFC 9110 §13.1.2, and HTTP dates for Last-Modified.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strata::http {

// A strong entity tag for `body`: a quoted 128-bit hash ("\"…\""), the same in every process
// and on every instance.
std::string ETagOf(std::string_view body);

// Whether an If-None-Match header value matches `etag`: "*", or one of its comma-separated
// tags by weak comparison (a W/ prefix on either side is ignored). A content coding suffix
// added to the tag (…-gzip") is ignored too, so a tag sent with a compressed body still
// validates the same representation.
bool IfNoneMatch(std::string_view header, std::string_view etag);

// `etag` marked as the tag of the gzip-coded representation: "\"…-gzip\"".
std::string GzipETag(std::string_view etag);
// The identity representation's tag of a tag that may carry the gzip mark.
std::string IdentityETag(std::string_view etag);

// An HTTP-date (IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") of unix seconds.
std::string FormatHttpDate(int64_t unix_seconds);
// Unix seconds of an IMF-fixdate; nullopt for anything else.
std::optional<int64_t> ParseHttpDate(std::string_view text);

}  // namespace strata::http
