// Rate limiting with the generic cell rate algorithm (GCRA): a rule allows `max` requests per
// `interval`, all at once or spread out; each key keeps one timestamp (its theoretical arrival
// time), so memory is one small entry per active key. MemoryRateLimiter keeps them in this
// process; a shared implementation (Redis) will follow for several instances. Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace strata::ratelimit {

using Clock = std::chrono::steady_clock;

struct Rule {
  int64_t max = 0;                     // requests per interval (and the largest burst); > 0
  std::chrono::milliseconds interval;  // > 0
};

struct Decision {
  bool allowed = true;
  int64_t limit = 0;                      // the rule's max
  int64_t remaining = 0;                  // requests still allowed right now, after this one
  std::chrono::milliseconds retry_after;  // when denied: until one request is allowed again
  std::chrono::milliseconds reset;        // until the key is back to its full burst
};

// One key's request at `now` under `rule`: `tat`, the key's theoretical arrival time (any time not
// after `now` for a key not seen before), moves on when the request is allowed.
Decision Gcra(Clock::time_point& tat, const Rule& rule, Clock::time_point now);

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Counts one request of `key` under `rule` at `now` and says whether it is allowed. A denied
  // request is not counted.
  virtual Decision Take(std::string_view key, const Rule& rule, Clock::time_point now) = 0;
  Decision Take(std::string_view key, const Rule& rule) { return Take(key, rule, Clock::now()); }
  // The number of keys held.
  virtual std::size_t size() const = 0;
};

// In-process limiter holding at most `max_keys` keys: past that, keys whose allowance is back to
// full are dropped first, then those closest to it, so a flood of distinct keys cannot grow memory.
std::unique_ptr<RateLimiter> MakeMemoryRateLimiter(std::size_t max_keys = 1'000'000);

// The part of a client's address that its requests are counted under: an IPv4 address whole, an
// IPv6 address by its /64 prefix (one subscriber's network, within which addresses are free to
// pick, so counting them one by one would let a single client take a fresh allowance per request),
// an IPv4-mapped or NAT64 (64:ff9b::/96) IPv6 address as the IPv4 address in it, a zone ("%eth0")
// left out. Anything else is returned as it is.
std::string AddressKey(std::string_view address);

}  // namespace strata::ratelimit
