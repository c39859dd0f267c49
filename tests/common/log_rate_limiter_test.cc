#include "common/log_rate_limiter.h"

#include <optional>

#include "gtest/gtest.h"

namespace fleet {
namespace {

// The first event gets a line; more within the interval are counted, and the first after it
// gets a line that reports them.
TEST(LogRateLimiterTest, OneLinePerIntervalWithTheSuppressedCount) {
  ManualClock clock(absl::FromUnixSeconds(1000));
  LogRateLimiter limiter(clock, absl::Seconds(10));
  EXPECT_EQ(limiter.Admit(), 0);
  EXPECT_EQ(limiter.Admit(), std::nullopt);
  clock.Advance(absl::Seconds(9));
  EXPECT_EQ(limiter.Admit(), std::nullopt);
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(limiter.Admit(), 2);
  EXPECT_EQ(limiter.Admit(), std::nullopt);
}

// After a quiet interval, a lone event is written at once and reports nothing suppressed.
TEST(LogRateLimiterTest, QuietIntervalResets) {
  ManualClock clock(absl::FromUnixSeconds(1000));
  LogRateLimiter limiter(clock, absl::Seconds(10));
  EXPECT_EQ(limiter.Admit(), 0);
  clock.Advance(absl::Minutes(5));
  EXPECT_EQ(limiter.Admit(), 0);
}

}  // namespace
}  // namespace fleet
