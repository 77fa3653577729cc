#include "http/range.hpp"

#include <charconv>

#include "util/text.hpp"

namespace strata::http {
namespace {

bool Number(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

ByteRange ParseRange(std::string_view header, uint64_t size) {
  ByteRange whole;
  header = util::TrimSpaces(header);
  constexpr std::string_view kUnit = "bytes=";
  if (header.size() < kUnit.size()) return whole;
  for (std::size_t i = 0; i < kUnit.size(); ++i) {
    if (static_cast<char>(header[i] | 0x20) != kUnit[i] && header[i] != kUnit[i]) return whole;
  }
  const std::string_view spec = util::TrimSpaces(header.substr(kUnit.size()));
  if (spec.find(',') != std::string_view::npos) return whole;  // several ranges: the whole file
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  const std::string_view a = util::TrimSpaces(spec.substr(0, dash));
  const std::string_view b = util::TrimSpaces(spec.substr(dash + 1));
  ByteRange r{.kind = ByteRange::Kind::kPartial};
  if (a.empty()) {
    // The last N bytes.
    uint64_t n = 0;
    if (!Number(b, n)) return whole;
    if (n == 0 || size == 0) return {.kind = ByteRange::Kind::kUnsatisfiable};
    r.first = n >= size ? 0 : size - n;
    r.last = size - 1;
    return r;
  }
  if (!Number(a, r.first)) return whole;
  if (b.empty()) {
    r.last = size == 0 ? 0 : size - 1;
  } else {
    if (!Number(b, r.last) || r.last < r.first) return whole;
    if (size > 0 && r.last >= size) r.last = size - 1;
  }
  if (r.first >= size) return {.kind = ByteRange::Kind::kUnsatisfiable};
  return r;
}

}  // namespace strata::http
