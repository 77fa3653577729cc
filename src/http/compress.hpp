// gzip response compression (zlib). Stateless functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace strata::http {

// True if an Accept-Encoding value accepts gzip (explicitly or through "*"), honouring q=0.
bool AcceptsGzip(std::string_view accept_encoding);

// gzip-compresses `data`; nullopt if zlib fails.
std::optional<std::string> Gzip(std::string_view data, int level = 6);

// Decompresses a gzip stream (used by tests and, later, compressed uploads); nullopt if malformed.
std::optional<std::string> Gunzip(std::string_view data);

}  // namespace strata::http
