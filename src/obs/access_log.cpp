#include "obs/access_log.hpp"

#include <fmt/format.h>
#include <unistd.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <cerrno>
#include <chrono>
#include <ctime>

namespace strata::obs {

void AppendJsonEscaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Copies runs of characters that need no escape in one append: text is mostly such runs.
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
#if defined(__SSE2__)
    // Skip 16 plain characters at a time: no control character, quote or backslash among them.
    while (i + 16 <= s.size()) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
      const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
      const __m128i special = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
      if (_mm_movemask_epi8(_mm_or_si128(control, special)) != 0) break;
      i += 16;
    }
    if (i >= s.size()) break;
#endif
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, sizeof esc);
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
}

void AccessLog::Buffer::Append(const AccessEntry& e) {
  if (!log_.enabled_) return;
  const auto now = std::chrono::system_clock::now();
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const int64_t second = micros / 1000000;
  if (second != cached_second_) {
    const std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(cached_prefix_, sizeof cached_prefix_, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_second_ = second;
  }
  buf_ += "{\"time\":\"";
  buf_ += cached_prefix_;
  fmt::format_to(std::back_inserter(buf_), ".{:03}Z\",\"request_id\":\"", (micros / 1000) % 1000);
  AppendJsonEscaped(buf_, e.request_id);
  buf_ += "\",\"method\":\"";
  AppendJsonEscaped(buf_, e.method);
  buf_ += "\",\"route\":\"";
  AppendJsonEscaped(buf_, e.route);
  buf_ += "\",\"path\":\"";
  AppendJsonEscaped(buf_, e.path);
  fmt::format_to(std::back_inserter(buf_), "\",\"status\":{},\"bytes\":{},\"duration_us\":{},\"remote\":\"", e.status,
                 e.bytes, e.duration_us);
  AppendJsonEscaped(buf_, e.remote);
  buf_ += "\"}\n";
  if (buf_.size() >= kFlushBytes) Flush();
}

void AccessLog::Buffer::Flush() {
  if (buf_.empty()) return;
  log_.WriteAll(buf_);
  buf_.clear();
}

void AccessLog::WriteAll(std::string_view data) {
  std::lock_guard lock(mu_);
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // stdout closed: nothing sensible left to do with the log
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace strata::obs
