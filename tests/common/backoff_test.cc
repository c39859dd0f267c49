#include "common/backoff.h"

#include <algorithm>
#include <random>
#include <set>
#include <vector>

#include "absl/random/mock_distributions.h"
#include "absl/random/mocking_bit_gen.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet {
namespace {

using ::testing::Return;

std::vector<absl::Duration> Delays(Backoff& backoff, int n) {
  std::vector<absl::Duration> delays;
  for (int i = 0; i < n; ++i) delays.push_back(backoff.Next());
  return delays;
}

// Without jitter the delays double from 0.5 s and stop growing at the 30 s cap.
TEST(BackoffTest, DoublesUpToTheCap) {
  std::mt19937 rng(1);
  Backoff backoff({.jitter = 0}, rng);
  const std::vector<absl::Duration> want = {
      absl::Milliseconds(500), absl::Seconds(1),  absl::Seconds(2),  absl::Seconds(4),
      absl::Seconds(8),        absl::Seconds(16), absl::Seconds(30), absl::Seconds(30)};
  EXPECT_EQ(Delays(backoff, 8), want);
}

// Another multiplier and cap are honoured, and a very long run never overflows past the cap.
TEST(BackoffTest, CustomMultiplierAndCapHoldForever) {
  std::mt19937 rng(1);
  Backoff backoff(
      {.initial = absl::Seconds(1), .max = absl::Seconds(10), .multiplier = 3, .jitter = 0}, rng);
  EXPECT_EQ(Delays(backoff, 4), (std::vector<absl::Duration>{absl::Seconds(1), absl::Seconds(3),
                                                             absl::Seconds(9), absl::Seconds(10)}));
  for (int i = 0; i < 10000; ++i) ASSERT_EQ(backoff.Next(), absl::Seconds(10));
}

// Each delay is the base delay times the factor drawn from [0.5, 1.5) by the injected generator.
TEST(BackoffTest, JitterFactorComesFromTheGenerator) {
  absl::MockingBitGen gen;
  EXPECT_CALL(absl::MockUniform<double>(), Call(gen, 0.5, 1.5))
      .WillOnce(Return(0.5))
      .WillOnce(Return(1.25))
      .WillOnce(Return(1.0));
  Backoff backoff(BackoffOptions(), gen);
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(250));
  EXPECT_EQ(backoff.Next(), absl::Milliseconds(1250));
  EXPECT_EQ(backoff.Next(), absl::Seconds(2));
}

// With a real generator every delay lies in [0.5, 1.5) times its base, the spread is real, and
// none exceeds 1.5 times the cap.
TEST(BackoffTest, JitteredDelaysStayWithinBounds) {
  std::mt19937_64 rng(42);
  Backoff backoff(BackoffOptions(), rng);
  absl::Duration base = absl::Milliseconds(500);
  std::set<absl::Duration> at_cap;
  for (int i = 0; i < 500; ++i) {
    const absl::Duration delay = backoff.Next();
    ASSERT_GE(delay, base * 0.5) << "attempt " << i;
    ASSERT_LT(delay, base * 1.5) << "attempt " << i;
    if (base == absl::Seconds(30)) at_cap.insert(delay);
    base = std::min(base * 2, absl::Seconds(30));
  }
  EXPECT_GT(at_cap.size(), 400u);  // jittered, not one fixed value
  EXPECT_LT(*at_cap.rbegin(), absl::Seconds(45));
  EXPECT_GE(*at_cap.begin(), absl::Seconds(15));
}

// Reset starts again from the initial delay after the delays have grown.
TEST(BackoffTest, ResetStartsOver) {
  std::mt19937 rng(1);
  Backoff backoff({.jitter = 0}, rng);
  Delays(backoff, 5);
  backoff.Reset();
  EXPECT_EQ(Delays(backoff, 2),
            (std::vector<absl::Duration>{absl::Milliseconds(500), absl::Seconds(1)}));
}

// Options out of range are brought into range instead of producing zero, shrinking or NaN delays.
TEST(BackoffTest, OutOfRangeOptionsAreNormalized) {
  std::mt19937 rng(1);
  Backoff backoff(
      {.initial = absl::ZeroDuration(), .max = -absl::Seconds(1), .multiplier = 0.5, .jitter = -3},
      rng);
  EXPECT_EQ(backoff.options().initial, absl::Milliseconds(1));
  EXPECT_EQ(backoff.options().max, absl::Milliseconds(1));
  EXPECT_EQ(backoff.options().multiplier, 1.0);
  EXPECT_EQ(backoff.options().jitter, 0.0);
  EXPECT_EQ(Delays(backoff, 2),
            (std::vector<absl::Duration>{absl::Milliseconds(1), absl::Milliseconds(1)}));

  Backoff wild({.jitter = 7}, rng);
  EXPECT_EQ(wild.options().jitter, 0.99);
  EXPECT_GT(wild.Next(), absl::ZeroDuration());
}

}  // namespace
}  // namespace fleet
