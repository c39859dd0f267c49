#include "common/metrics/histogram.h"

#include <limits>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::metrics {
namespace {

using ::testing::ElementsAre;

// An observation lands in the first bucket whose bound is >= it; reads are cumulative and the
// +Inf bucket equals the count.
TEST(HistogramTest, BucketsAreCumulativeWithLeSemantics) {
  Histogram histogram({1, 2, 4});
  for (double value : {0.5, 1.0, 1.5, 4.0, 4.5, 100.0}) histogram.Observe(value);
  const Histogram::Snapshot snapshot = histogram.Read();
  EXPECT_THAT(snapshot.cumulative, ElementsAre(2, 3, 4, 6));
  EXPECT_EQ(snapshot.count, 6);
  EXPECT_DOUBLE_EQ(snapshot.sum, 111.5);
}

// Bounds are sorted and deduplicated, infinite ones dropped (+Inf is always there), and NaN
// counts in +Inf.
TEST(HistogramTest, NormalizesBoundsAndCountsNanInInf) {
  Histogram histogram({4, 1, std::numeric_limits<double>::infinity(), 1});
  EXPECT_THAT(histogram.bounds(), ElementsAre(1, 4));
  histogram.Observe(std::numeric_limits<double>::quiet_NaN());
  EXPECT_THAT(histogram.Read().cumulative, ElementsAre(0, 0, 1));
}

// Concurrent observations are all counted.
TEST(HistogramTest, ConcurrentObservationsAllCount) {
  Histogram histogram(DefaultLatencyBuckets());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10'000; ++i) histogram.Observe(0.01);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const Histogram::Snapshot snapshot = histogram.Read();
  EXPECT_EQ(snapshot.count, 40'000);
  EXPECT_EQ(snapshot.cumulative[1], 40'000);  // le="0.01"
  EXPECT_EQ(snapshot.cumulative[0], 0);
}

// Exponential buckets multiply from the start.
TEST(HistogramTest, ExponentialBuckets) {
  EXPECT_THAT(ExponentialBuckets(0.5, 2, 4), ElementsAre(0.5, 1, 2, 4));
}

}  // namespace
}  // namespace fleet::metrics
