#include "obs/metrics.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace strata::obs {
namespace {

TEST(MetricsTest, CounterRendersWithLabels) {
  Registry r;
  r.GetCounter("http_requests_total", "Requests.", {{"route", "/a"}, {"method", "GET"}}).Inc(3);
  r.GetCounter("http_requests_total", "Requests.", {{"route", "/a"}, {"method", "GET"}}).Inc();
  const auto text = r.Render();
  EXPECT_NE(text.find("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n"),
            std::string::npos);
  EXPECT_NE(text.find("http_requests_total{route=\"/a\",method=\"GET\"} 4\n"), std::string::npos) << text;
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(RenderLabels({{"p", "a\"b\\c\nd"}}), "p=\"a\\\"b\\\\c\\nd\"");
}

TEST(MetricsTest, HistogramBucketsAreCumulative) {
  Registry r;
  auto& h = r.GetHistogram("lat_seconds", "Latency.", {{"route", "/x"}}, {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.1);  // on the bound: counted in le="0.1"
  h.Observe(0.5);
  h.Observe(7);
  const auto text = r.Render();
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/x\",le=\"1\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_sum{route=\"/x\"} 7.65\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_count{route=\"/x\"} 4\n"), std::string::npos) << text;
}

TEST(MetricsTest, GaugesAndCallbacks) {
  Registry r;
  r.GetGauge("in_flight", "In flight.").Add(5);
  r.GetGauge("in_flight", "In flight.").Add(-2);
  r.AddCallbackGauge("queue_depth", "Depth.", [] { return 42.0; }, {{"queue", "q"}});
  const auto text = r.Render();
  EXPECT_NE(text.find("in_flight 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("queue_depth{queue=\"q\"} 42\n"), std::string::npos) << text;
}

TEST(MetricsTest, TypeClashIsAProgrammingError) {
  Registry r;
  r.GetCounter("x", "x");
  EXPECT_THROW(r.GetGauge("x", "x"), std::logic_error);
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  Registry r;
  auto& c = r.GetCounter("c", "c");
  auto& h = r.GetHistogram("h", "h");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        c.Inc();
        h.Observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 400000u);
  EXPECT_EQ(h.Read().count, 400000u);
}

}  // namespace
}  // namespace strata::obs
