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

namespace {

// Writes the escape of `c` (a quote, a backslash or a control character) at `o`; returns the end.
char* WriteEscape(char* o, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  *o++ = '\\';
  switch (c) {
    case '"':
    case '\\':
      *o++ = static_cast<char>(c);
      break;
    case '\n':
      *o++ = 'n';
      break;
    case '\r':
      *o++ = 'r';
      break;
    case '\t':
      *o++ = 't';
      break;
    default:
      *o++ = 'u';
      *o++ = '0';
      *o++ = '0';
      *o++ = kHex[c >> 4];
      *o++ = kHex[c & 15];
  }
  return o;
}

bool IsPlain(unsigned char c) { return c >= 0x20 && c != '"' && c != '\\'; }

// The length of `s` escaped.
std::size_t EscapedSize(std::string_view s) {
  std::size_t n = s.size();
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (!IsPlain(c)) n += c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t' ? 1 : 5;
  }
  return n;
}

// Input bytes escaped per call of resize_and_overwrite: their worst case (six bytes each) is the
// room taken at once.
constexpr std::size_t kEscapeBlock = 4096;

}  // namespace

void AppendJsonEscaped(std::string& out, std::string_view s) {
  // One pass: plain characters are stored 16 at a time as they are checked, into room for the
  // worst case that the string is then cut back from.
  while (!s.empty()) {
    const std::string_view block = s.substr(0, kEscapeBlock);
    s.remove_prefix(block.size());
    const std::size_t start = out.size();
    // Where the string has no room for the worst case, the exact size is counted first, so that
    // a string reserved for its final size is not grown.
    std::size_t room = 6 * block.size();
    if (out.capacity() - start < room) room = EscapedSize(block);
    out.resize_and_overwrite(start + room, [&](char* buf, std::size_t) {
      char* o = buf + start;
      std::size_t i = 0;
#if defined(__SSE2__)
      // Whole 16-byte stores only while the room after them is certain (always, unless `room` is
      // the exact size).
      while (i + 16 <= block.size() && static_cast<std::size_t>(o - buf) + 16 <= start + room) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block.data() + i));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(o), v);
        const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
        const __m128i special =
            _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
        const int mask = _mm_movemask_epi8(_mm_or_si128(control, special));
        if (mask == 0) {
          i += 16;
          o += 16;
          continue;
        }
        // The plain characters before the first special one are in place already.
        const int plain = __builtin_ctz(static_cast<unsigned>(mask));
        o = WriteEscape(o + plain, static_cast<unsigned char>(block[i + static_cast<std::size_t>(plain)]));
        i += static_cast<std::size_t>(plain) + 1;
      }
#endif
      for (; i < block.size(); ++i) {
        const auto c = static_cast<unsigned char>(block[i]);
        if (IsPlain(c)) {
          *o++ = static_cast<char>(c);
        } else {
          o = WriteEscape(o, c);
        }
      }
      return static_cast<std::size_t>(o - buf);
    });
  }
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
