#include "ratelimit/limiter.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <functional>
#include <iterator>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace strata::ratelimit {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr std::size_t kShards = 16;

// Milliseconds, rounded up: a client that waits retry_after is allowed.
milliseconds CeilMs(nanoseconds d) { return std::chrono::ceil<milliseconds>(std::max(d, nanoseconds::zero())); }

}  // namespace

Decision Gcra(Clock::time_point& tat, const Rule& rule, Clock::time_point now) {
  const nanoseconds interval = rule.interval;
  const int64_t max = std::max<int64_t>(1, rule.max);
  // One request's share of the interval; at least a nanosecond, however many requests a rule
  // allows.
  const nanoseconds emission = std::max(nanoseconds(1), interval / max);
  Decision d;
  d.limit = max;
  const Clock::time_point start = std::max(tat, now);
  const Clock::time_point next = start + emission;
  if (next - now > interval) {
    // Over the burst: allowed again once the arrival time is back within the interval.
    d.allowed = false;
    d.remaining = 0;
    d.retry_after = CeilMs(next - interval - now);
    d.reset = CeilMs(start - now);
    return d;
  }
  tat = next;
  d.remaining = (interval - (next - now)) / emission;
  d.retry_after = milliseconds::zero();
  d.reset = CeilMs(next - now);
  return d;
}

namespace {

class MemoryRateLimiter final : public RateLimiter {
 public:
  explicit MemoryRateLimiter(std::size_t max_keys) : per_shard_(std::max<std::size_t>(1, max_keys / kShards)) {}

  Decision Take(std::string_view key, const Rule& rule, Clock::time_point now) override {
    Shard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
    std::lock_guard lock(shard.mu);
    auto it = shard.tat.find(std::string(key));
    const bool known = it != shard.tat.end();
    Clock::time_point tat = known ? it->second : now;
    const Decision d = Gcra(tat, rule, now);
    if (!d.allowed) return d;
    if (known) {
      it->second = tat;
    } else {
      if (shard.tat.size() >= per_shard_) Evict(shard, now);
      shard.tat.emplace(std::string(key), tat);
    }
    return d;
  }

  std::size_t size() const override {
    std::size_t n = 0;
    for (auto& shard : shards_) {
      std::lock_guard lock(shard.mu);
      n += shard.tat.size();
    }
    return n;
  }

 private:
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, Clock::time_point> tat;
  };

  // Makes room for one key: drops every key back to its full allowance (its arrival time has
  // passed) and, if none has, the eighth of the keys closest to it.
  void Evict(Shard& shard, Clock::time_point now) {
    std::erase_if(shard.tat, [&](const auto& e) { return e.second <= now; });
    if (shard.tat.size() < per_shard_) return;
    std::vector<Clock::time_point> times;
    times.reserve(shard.tat.size());
    for (const auto& [k, t] : shard.tat) times.push_back(t);
    const std::size_t drop = std::max<std::size_t>(1, times.size() / 8);
    std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(drop - 1), times.end());
    const Clock::time_point cutoff = times[drop - 1];
    std::erase_if(shard.tat, [&](const auto& e) { return e.second <= cutoff; });
  }

  const std::size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace

std::string AddressKey(std::string_view address) {
  // A link-local address's zone ("%eth0") names the interface, not the client.
  if (const auto zone = address.find('%'); zone != std::string_view::npos) address = address.substr(0, zone);
  if (address.find(':') == std::string_view::npos || address.size() >= INET6_ADDRSTRLEN) return std::string(address);
  const std::string text(address);
  in6_addr a{};
  if (inet_pton(AF_INET6, text.c_str(), &a) != 1) return text;
  char out[INET6_ADDRSTRLEN];
  // An IPv4 client seen through an IPv4-mapped address or the NAT64 prefix 64:ff9b::/96.
  static constexpr uint8_t kNat64[12] = {0x00, 0x64, 0xff, 0x9b};
  if (IN6_IS_ADDR_V4MAPPED(&a) || std::equal(std::begin(kNat64), std::end(kNat64), a.s6_addr)) {
    return inet_ntop(AF_INET, &a.s6_addr[12], out, sizeof out) ? std::string(out) : text;
  }
  std::fill(std::begin(a.s6_addr) + 8, std::end(a.s6_addr), 0);
  if (!inet_ntop(AF_INET6, &a, out, sizeof out)) return text;
  return std::string(out) + "/64";
}

std::unique_ptr<RateLimiter> MakeMemoryRateLimiter(std::size_t max_keys) {
  return std::make_unique<MemoryRateLimiter>(max_keys);
}

}  // namespace strata::ratelimit
