// Limits of the HTTP layer, in one place.
#pragma once

#include <chrono>
#include <cstddef>

namespace strata::http {

inline constexpr std::size_t kMaxHeaderBytes = 16 * 1024;        // larger → 431
inline constexpr std::size_t kDefaultBodyLimit = 1024 * 1024;    // per route; larger → 413
inline constexpr std::size_t kDefaultMaxConnections = 10000;     // more → 503 and close
inline constexpr std::size_t kCompressMinBytes = 1024;           // smaller bodies are sent as they are
inline constexpr std::size_t kReadChunkBytes = 16 * 1024;        // one socket read
inline constexpr std::size_t kSendFileChunkBytes = 1024 * 1024;  // one sendfile call of a file body
// multipart/form-data bodies. Each part costs memory (its name, file name, a spooled file)
// whatever its size, so the parts and their header blocks are bounded as well as their bytes.
inline constexpr std::size_t kMaxMultipartParts = 1000;               // more → 413
inline constexpr std::size_t kMaxPartHeaderBytes = 16 * 1024;         // one part's headers; more → 400
inline constexpr std::size_t kMaxMultipartHeaderBytes = 1024 * 1024;  // all parts' headers; more → 413
// Whitespace allowed between a boundary delimiter and its CRLF (RFC 2046 transport padding).
inline constexpr std::size_t kMaxTransportPadding = 64;  // more → 400
// Read and dropped before closing on an error (an upload refused part-way): enough for the client
// to finish sending and read the answer instead of a reset.
inline constexpr std::size_t kLingerDrainBytes = 64 * 1024 * 1024;
inline constexpr auto kHeaderReadTimeout = std::chrono::seconds(10);
inline constexpr auto kIdleTimeout = std::chrono::seconds(60);  // keep-alive, between requests
inline constexpr auto kBodyReadTimeout = std::chrono::seconds(30);
inline constexpr auto kWriteTimeout = std::chrono::seconds(30);
inline constexpr auto kLingerTimeout = std::chrono::seconds(1);   // of silence while draining
inline constexpr auto kLingerTotal = std::chrono::seconds(5);     // of draining in all
inline constexpr auto kShutdownGrace = std::chrono::seconds(10);  // in-flight requests on SIGTERM

}  // namespace strata::http
