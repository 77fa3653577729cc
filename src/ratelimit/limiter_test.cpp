#include "ratelimit/limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace strata::ratelimit {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const Rule kFivePerMinute{5, seconds(60)};

TEST(MemoryRateLimiter, AllowsTheBurstThenRefusesWithTheTimeToWait) {
  auto limiter = MakeMemoryRateLimiter();
  const auto t0 = Clock::time_point{} + seconds(1000);
  for (int i = 0; i < 5; ++i) {
    auto d = limiter->Take("k", kFivePerMinute, t0);
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 4 - i);
    EXPECT_EQ(d.limit, 5);
  }
  auto denied = limiter->Take("k", kFivePerMinute, t0);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.remaining, 0);
  EXPECT_EQ(denied.retry_after, seconds(12));  // one emission interval: 60 s / 5
  EXPECT_EQ(denied.reset, seconds(60));
  // Just before the retry time it is still refused; at it, one request goes through.
  EXPECT_FALSE(limiter->Take("k", kFivePerMinute, t0 + seconds(12) - milliseconds(1)).allowed);
  EXPECT_TRUE(limiter->Take("k", kFivePerMinute, t0 + seconds(12)).allowed);
  EXPECT_FALSE(limiter->Take("k", kFivePerMinute, t0 + seconds(12)).allowed);
  // Other keys are not affected.
  EXPECT_TRUE(limiter->Take("other", kFivePerMinute, t0).allowed);
}

TEST(MemoryRateLimiter, ASteadyRateAtTheLimitIsAlwaysAllowed) {
  auto limiter = MakeMemoryRateLimiter();
  const Rule rule{100, seconds(1)};
  auto t = Clock::time_point{} + seconds(50);
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(limiter->Take("k", rule, t).allowed) << i;
    t += milliseconds(10);
  }
  // Twice the rate: after the burst is spent, about every other request is refused.
  int allowed = 0;
  for (int i = 0; i < 1000; ++i) {
    allowed += limiter->Take("k2", rule, t).allowed;
    t += milliseconds(5);
  }
  EXPECT_NEAR(allowed, 100 + 500, 5);
}

TEST(MemoryRateLimiter, DeniedRequestsDoNotPushTheRetryTimeBack) {
  auto limiter = MakeMemoryRateLimiter();
  const auto t0 = Clock::time_point{} + seconds(10);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(limiter->Take("k", kFivePerMinute, t0).allowed);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(limiter->Take("k", kFivePerMinute, t0 + seconds(1)).allowed);
  auto d = limiter->Take("k", kFivePerMinute, t0 + seconds(1));
  EXPECT_EQ(d.retry_after, seconds(11));
}

TEST(MemoryRateLimiter, ManyDistinctKeysStayWithinTheBound) {
  auto limiter = MakeMemoryRateLimiter(1600);
  const auto t0 = Clock::time_point{} + seconds(10);
  // A flood of distinct addresses: memory stays bounded, and the limiter keeps working.
  for (int i = 0; i < 200'000; ++i) {
    limiter->Take("addr" + std::to_string(i), kFivePerMinute, t0);
    ASSERT_LE(limiter->size(), 1600u);
  }
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter->Take("fresh", kFivePerMinute, t0).allowed);
  EXPECT_FALSE(limiter->Take("fresh", kFivePerMinute, t0).allowed);
}

TEST(MemoryRateLimiter, CountsExactlyUnderConcurrency) {
  auto limiter = MakeMemoryRateLimiter();
  const auto t0 = Clock::time_point{} + seconds(10);
  const Rule rule{1000, seconds(3600)};
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) allowed += limiter->Take("shared", rule, t0).allowed;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), 1000);
}

TEST(MemoryRateLimiter, RulesAllowingMoreRequestsThanNanosecondsStillCount) {
  auto limiter = MakeMemoryRateLimiter(100);
  const Rule rule{12'000'000'000, std::chrono::seconds(1)};
  const auto now = Clock::now();
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(limiter->Take("k", rule, now).allowed);
}

TEST(AddressKeyTest, IPv6CountsByItsSlash64) {
  EXPECT_EQ(AddressKey("203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(AddressKey("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(AddressKey("2001:db8:1:2::1"), AddressKey("2001:db8:1:2:ffff::9"));
  EXPECT_NE(AddressKey("2001:db8:1:2::1"), AddressKey("2001:db8:1:3::1"));
  EXPECT_EQ(AddressKey("::ffff:198.51.100.4"), "198.51.100.4");
  EXPECT_EQ(AddressKey("::1"), "::/64");
  EXPECT_EQ(AddressKey("64:ff9b::c000:221"), "192.0.2.33");
  EXPECT_EQ(AddressKey("fe80::1%eth0"), "fe80::/64");
  EXPECT_EQ(AddressKey("10.0.0.1%x"), "10.0.0.1");
  EXPECT_EQ(AddressKey("not:an:address"), "not:an:address");
  EXPECT_EQ(AddressKey(""), "");
}

}  // namespace
}  // namespace strata::ratelimit
