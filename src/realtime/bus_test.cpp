#include "realtime/bus.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace strata::realtime {
namespace {

TEST(InProcessBusTest, DeliversInOrderToEverySubscriberOfTheChannel) {
  std::mutex mu;
  std::vector<std::string> a, b, other;
  {
    auto bus = MakeInProcessBus();
    bus->Subscribe("records", [&](const std::string& p) {
      std::lock_guard lock(mu);
      a.push_back(p);
    });
    bus->Subscribe("records", [&](const std::string& p) {
      std::lock_guard lock(mu);
      b.push_back(p);
    });
    bus->Subscribe("other", [&](const std::string& p) {
      std::lock_guard lock(mu);
      other.push_back(p);
    });
    for (int i = 0; i < 1000; ++i) bus->Publish("records", std::to_string(i));
    bus->Publish("nobody", "x");
  }  // destroying the bus delivers what is queued
  ASSERT_EQ(a.size(), 1000u);
  EXPECT_EQ(a, b);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(a[static_cast<std::size_t>(i)], std::to_string(i));
  EXPECT_TRUE(other.empty());
}

TEST(InProcessBusTest, APublisherNeverWaitsOnASlowSubscriber) {
  auto bus = MakeInProcessBus();
  std::atomic<bool> release{false};
  std::atomic<int> seen{0};
  bus->Subscribe("c", [&](const std::string&) {
    while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ++seen;
  });
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 100; ++i) bus->Publish("c", "m");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(500));
  EXPECT_GE(bus->backlog(), 99u);
  release = true;
  while (seen < 100) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(bus->backlog(), 0u);
}

}  // namespace
}  // namespace strata::realtime
