// FdBudget: admission against the open-file limit with a scripted descriptor count and a manual
// clock, and CountOpenDescriptors against the real process.
#include "server/app/fd_budget.h"

#include <unistd.h>

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

// A descriptor count the test sets, and how often it was taken.
struct ScriptedCount {
  absl::StatusOr<uint64_t> value = 0;
  int calls = 0;

  DescriptorCounter Counter() {
    return [this]() -> absl::StatusOr<uint64_t> {
      ++calls;
      return value;
    };
  }
};

class FdBudgetTest : public ::testing::Test {
 protected:
  // Limit 1000; with reserve 200, at most 800 descriptors in use after admitting.
  static constexpr uint64_t kReserve = 200;

  FdBudget MakeBudget() {
    return FdBudget({.limit = 1000,
                     .max_count_age = absl::Milliseconds(100),
                     .min_recount_interval = absl::Milliseconds(10)},
                    count_.Counter(), clock_);
  }

  ScriptedCount count_;
  ManualClock clock_{absl::FromUnixSeconds(1'000'000)};
};

// Below the ceiling a connection is admitted; a count that would leave less than the reserve
// free refuses it.
TEST_F(FdBudgetTest, AdmitsUpToTheReserve) {
  FdBudget budget = MakeBudget();
  count_.value = 800;  // the new descriptor included: exactly the reserve stays free
  FdBudget::Decision decision = budget.Admit(/*fd=*/5, kReserve);
  EXPECT_TRUE(decision.admit);
  EXPECT_EQ(decision.in_use, 800u);

  clock_.Advance(absl::Seconds(1));
  count_.value = 801;
  decision = budget.Admit(/*fd=*/5, kReserve);
  EXPECT_FALSE(decision.admit);
  EXPECT_EQ(decision.in_use, 801u);
}

// Set-aside descriptors (connections with a budget of their own) are not counted: the same count
// that refuses without them admits with them, and the decision reports what counted.
TEST_F(FdBudgetTest, SetAsideDescriptorsAreNotCounted) {
  FdBudget budget = MakeBudget();
  count_.value = 850;
  FdBudget::Decision decision = budget.Admit(/*fd=*/5, kReserve, /*set_aside=*/50);
  EXPECT_TRUE(decision.admit);
  EXPECT_EQ(decision.in_use, 800u);
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(budget.Admit(/*fd=*/5, kReserve, /*set_aside=*/49).admit);
  // Never up to the limit itself, whatever is set aside.
  clock_.Advance(absl::Seconds(1));
  count_.value = 1000;
  EXPECT_FALSE(budget.Admit(/*fd=*/5, kReserve, /*set_aside=*/500).admit);
}

// Between counts, each admitted connection counts as one more descriptor in use, so a burst is
// cut off at the ceiling with a single count of the descriptors.
TEST_F(FdBudgetTest, BurstBetweenCountsAddsUpAdmittedConnections) {
  FdBudget budget = MakeBudget();
  count_.value = 790;
  int admitted = 0;
  for (int i = 0; i < 50; ++i) admitted += budget.Admit(/*fd=*/5, kReserve).admit ? 1 : 0;
  // 790 counted with the first connection, then 791 .. 800 for the next ten.
  EXPECT_EQ(admitted, 11);
  EXPECT_EQ(count_.calls, 1);
}

// At the ceiling, the count is taken again once min_recount_interval has passed, and
// descriptors closed in the meantime make room again.
TEST_F(FdBudgetTest, RecountsAtTheCeilingAfterTheMinimumInterval) {
  FdBudget budget = MakeBudget();
  count_.value = 800;
  ASSERT_TRUE(budget.Admit(/*fd=*/5, kReserve).admit);
  count_.value = 100;  // many connections ended
  EXPECT_FALSE(budget.Admit(/*fd=*/5, kReserve).admit);
  EXPECT_EQ(count_.calls, 1);

  clock_.Advance(absl::Milliseconds(10));
  EXPECT_TRUE(budget.Admit(/*fd=*/5, kReserve).admit);
  EXPECT_EQ(count_.calls, 2);
}

// Far from the ceiling the count is still renewed every max_count_age, so that descriptors
// opened elsewhere in the process are seen.
TEST_F(FdBudgetTest, RecountsWhenTheCountIsOld) {
  FdBudget budget = MakeBudget();
  count_.value = 10;
  ASSERT_TRUE(budget.Admit(/*fd=*/5, kReserve).admit);
  clock_.Advance(absl::Milliseconds(99));
  ASSERT_TRUE(budget.Admit(/*fd=*/5, kReserve).admit);
  EXPECT_EQ(count_.calls, 1);

  clock_.Advance(absl::Milliseconds(1));
  count_.value = 900;  // the store opened many files
  EXPECT_FALSE(budget.Admit(/*fd=*/5, kReserve).admit);
  EXPECT_EQ(count_.calls, 2);
}

// A slow count is taken less often: the intervals stretch to ten times what it took.
TEST_F(FdBudgetTest, SlowCountsAreTakenLessOften) {
  FdBudget budget(
      {.limit = 1000,
       .max_count_age = absl::Milliseconds(100),
       .min_recount_interval = absl::Milliseconds(10)},
      [this]() -> absl::StatusOr<uint64_t> {
        clock_.Advance(absl::Milliseconds(5));
        return count_.Counter()();
      },
      clock_);
  count_.value = 800;
  ASSERT_TRUE(budget.Admit(/*fd=*/5, kReserve).admit);
  count_.value = 100;
  clock_.Advance(absl::Milliseconds(40));  // 45 ms after the count started
  EXPECT_FALSE(budget.Admit(/*fd=*/5, kReserve).admit);
  EXPECT_EQ(count_.calls, 1);
  clock_.Advance(absl::Milliseconds(5));  // 50 ms: ten times the 5 ms the count took
  EXPECT_TRUE(budget.Admit(/*fd=*/5, kReserve).admit);
  EXPECT_EQ(count_.calls, 2);
}

// The descriptor number bounds the count from below: every lower number is in use.
TEST_F(FdBudgetTest, HighDescriptorNumberRefusesDespiteALowCount) {
  FdBudget budget = MakeBudget();
  count_.value = 10;
  FdBudget::Decision decision = budget.Admit(/*fd=*/850, kReserve);
  EXPECT_FALSE(decision.admit);
  EXPECT_EQ(decision.in_use, 851u);
}

// With no descriptor left to count with, the process counts as full.
TEST_F(FdBudgetTest, CountFailingForWantOfDescriptorsRefuses) {
  FdBudget budget = MakeBudget();
  count_.value = absl::ResourceExhaustedError("Too many open files");
  FdBudget::Decision decision = budget.Admit(/*fd=*/5, kReserve);
  EXPECT_FALSE(decision.admit);
  EXPECT_EQ(decision.in_use, 1000u);
}

// Without procfs, the descriptor numbers alone decide.
TEST_F(FdBudgetTest, CountFailingOtherwiseFallsBackToDescriptorNumbers) {
  FdBudget budget = MakeBudget();
  count_.value = absl::NotFoundError("no /proc");
  EXPECT_TRUE(budget.Admit(/*fd=*/5, kReserve).admit);
  clock_.Advance(absl::Seconds(1));
  EXPECT_FALSE(budget.Admit(/*fd=*/900, kReserve).admit);
}

// With no limit, everything is admitted.
TEST_F(FdBudgetTest, NoLimitAdmitsEverything) {
  FdBudget budget({.limit = UINT64_MAX}, count_.Counter(), clock_);
  count_.value = 1'000'000;
  EXPECT_TRUE(budget.Admit(/*fd=*/999'999, kReserve).admit);
}

// The reserve is what is wanted, but never more than the given fraction of the limit.
TEST(FdBudgetReserveTest, ScaledReserveCapsAtAFractionOfTheLimit) {
  EXPECT_EQ(FdBudget::ScaledReserve(20'000, 672, 0.5), 672u);
  EXPECT_EQ(FdBudget::ScaledReserve(300, 672, 0.5), 150u);
  EXPECT_EQ(FdBudget::ScaledReserve(300, 544, 0.375), 112u);
  EXPECT_EQ(FdBudget::ScaledReserve(UINT64_MAX, 672, 0.5), 672u);
  EXPECT_EQ(FdBudget::ScaledReserve(0, 672, 0.5), 0u);
}

// CountOpenDescriptors sees descriptors come and go.
TEST(CountOpenDescriptorsTest, CountsThisProcessDescriptors) {
  ASSERT_OK_AND_ASSIGN(uint64_t before, CountOpenDescriptors());
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_OK_AND_ASSIGN(uint64_t during, CountOpenDescriptors());
  close(fds[0]);
  close(fds[1]);
  ASSERT_OK_AND_ASSIGN(uint64_t after, CountOpenDescriptors());
  EXPECT_EQ(during, before + 2);
  EXPECT_EQ(after, before);
}

}  // namespace
}  // namespace fleet::server
