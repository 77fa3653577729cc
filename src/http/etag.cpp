#include "http/etag.hpp"

#include <fmt/format.h>
#include <xxhash.h>

#include <ctime>

#include "util/text.hpp"

namespace strata::http {
namespace {

constexpr std::string_view kGzipSuffix = "-gzip";

// The opaque part of a tag: without W/, quotes or the coding suffix.
std::string_view Opaque(std::string_view tag) {
  if (tag.starts_with("W/")) tag.remove_prefix(2);
  if (tag.size() >= 2 && tag.front() == '"' && tag.back() == '"') tag = tag.substr(1, tag.size() - 2);
  if (tag.ends_with(kGzipSuffix)) tag.remove_suffix(kGzipSuffix.size());
  return tag;
}

}  // namespace

std::string ETagOf(std::string_view body) {
  const XXH128_hash_t h = XXH3_128bits(body.data(), body.size());
  return fmt::format("\"{:016x}{:016x}\"", h.high64, h.low64);
}

bool IfNoneMatch(std::string_view header, std::string_view etag) {
  const std::string_view want = Opaque(etag);
  while (!header.empty()) {
    const auto comma = header.find(',');
    const std::string_view item = util::TrimSpaces(header.substr(0, comma));
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    if (item == "*") return true;
    if (!item.empty() && Opaque(item) == want) return true;
  }
  return false;
}

std::string GzipETag(std::string_view etag) {
  std::string out(etag);
  if (out.size() >= 2 && out.back() == '"' && !Opaque(etag).empty() && !etag.ends_with("-gzip\"")) {
    out.insert(out.size() - 1, kGzipSuffix);
  }
  return out;
}

std::string IdentityETag(std::string_view etag) {
  std::string out(etag);
  if (etag.ends_with("-gzip\"")) out.erase(out.size() - 1 - kGzipSuffix.size(), kGzipSuffix.size());
  return out;
}

std::string FormatHttpDate(int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  const std::size_t n = std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return std::string(buf, n);
}

std::optional<int64_t> ParseHttpDate(std::string_view text) {
  if (text.size() != 29) return std::nullopt;
  const std::string copy(text);
  std::tm tm{};
  const char* end = strptime(copy.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace strata::http
