// The access log: one JSON line per request on a file descriptor (stdout by default).
// AccessLog is shared and thread-safe; each I/O thread owns an AccessLog::Buffer, which it fills
// without locking and flushes in one write when it grows or on a timer, so that logging costs no
// system call and no shared lock per request.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

namespace strata::obs {

struct AccessEntry {
  std::string_view request_id;
  std::string_view method;
  std::string_view route;  // the matched route pattern, or empty when none matched
  std::string_view path;   // the request path, without its query string (which may carry secrets)
  int status = 0;
  uint64_t bytes = 0;  // response body bytes sent
  uint64_t duration_us = 0;
  std::string_view remote;  // client address
};

class AccessLog {
 public:
  // Writes to `fd`, which stays owned by the caller. A disabled log drops every entry.
  explicit AccessLog(int fd = 1, bool enabled = true) : fd_(fd), enabled_(enabled) {}

  bool enabled() const { return enabled_; }

  // Per-thread line buffer. Not thread-safe: one per thread.
  class Buffer {
   public:
    explicit Buffer(AccessLog& log) : log_(log) {}
    ~Buffer() { Flush(); }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

    // Appends one line; flushes when the buffer passes kFlushBytes.
    void Append(const AccessEntry& entry);
    // Writes out everything buffered.
    void Flush();

   private:
    static constexpr std::size_t kFlushBytes = 32 * 1024;
    AccessLog& log_;
    std::string buf_;
    int64_t cached_second_ = -1;
    char cached_prefix_[32] = {};  // "2026-11-22T22:30:01"
  };

 private:
  void WriteAll(std::string_view data);

  int fd_;
  bool enabled_;
  std::mutex mu_;
};

// Appends `s` to `out` as the body of a JSON string (without quotes), escaping as RFC 8259 requires.
void AppendJsonEscaped(std::string& out, std::string_view s);

}  // namespace strata::obs
