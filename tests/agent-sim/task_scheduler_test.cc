#include "agent-sim/task_scheduler.h"

#include <memory>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace fleet::agent {
namespace {

// Tasks run in the order of their times (then of their adding), on the scheduler's thread,
// tasks they add included.
TEST(TimerThreadTest, RunsTasksInTimeOrder) {
  TimerThread timers;
  absl::Mutex mu;
  std::vector<int> ran;
  absl::Notification done;
  const absl::Time base = timers.Now();
  const auto record = [&](int i) {
    absl::MutexLock lock(&mu);
    ran.push_back(i);
  };
  // The thread is held in a task until all are added, so that their order is the scheduler's,
  // not the adding's.
  absl::Notification started;
  absl::Notification added;
  timers.At(base, [&] {
    started.Notify();
    added.WaitForNotification();
  });
  started.WaitForNotification();
  timers.At(base + absl::Milliseconds(3), [&] { record(3); });
  timers.At(base + absl::Milliseconds(1), [&] { record(1); });
  timers.At(base + absl::Milliseconds(1), [&] { record(2); });
  timers.At(base + absl::Milliseconds(5), [&] {
    record(4);
    timers.At(timers.Now(), [&] {
      record(5);
      done.Notify();
    });
  });
  added.Notify();
  done.WaitForNotification();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(ran, (std::vector<int>{1, 2, 3, 4, 5}));
}

// Stop drops pending tasks without running them (they are destroyed), and later ones too.
TEST(TimerThreadTest, StopDropsPendingTasks) {
  TimerThread timers;
  auto held = std::make_shared<int>(0);
  bool ran = false;
  timers.At(timers.Now() + absl::Hours(1), [held, &ran] { ran = true; });
  EXPECT_EQ(timers.pending(), 1u);
  timers.Stop();
  EXPECT_EQ(held.use_count(), 1);
  timers.At(timers.Now(), [held, &ran] { ran = true; });
  EXPECT_EQ(held.use_count(), 1);
  EXPECT_EQ(timers.pending(), 0u);
  timers.Stop();
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace fleet::agent
