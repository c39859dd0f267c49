// The thread that runs agent-sim's tasks (agent/task_scheduler.h): the simulated agents' actions
// (progress steps, the final state), their query answers (after their latency) and their
// connections' heartbeat and reconnect timers, every agent's on one thread.
#ifndef FLEETD_AGENT_SIM_TASK_SCHEDULER_H_
#define FLEETD_AGENT_SIM_TASK_SCHEDULER_H_

#include <cstdint>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/task_scheduler.h"

namespace fleet::agent {

// One thread that runs every task when due, in time order. A task must not block for long: it
// holds up every later one.
class TimerThread final : public TaskScheduler {
 public:
  // Starts the thread; its time is the system clock's.
  TimerThread();
  // Stops.
  ~TimerThread() override;
  TimerThread(const TimerThread&) = delete;
  TimerThread& operator=(const TimerThread&) = delete;

  absl::Time Now() override { return absl::Now(); }
  void At(absl::Time at, Task task) override;

  // Drops the pending tasks, waits for those running now (the batch that came due last) and ends
  // the thread; tasks added later are dropped. Idempotent; from one thread, not from a task.
  void Stop();

  // Tasks waiting to run.
  size_t pending() const;

 private:
  struct Entry {
    absl::Time at;
    uint64_t seq;
    Task task;
  };
  // Orders the heap so that the earliest (then the first added) is on top.
  static bool Later(const Entry& a, const Entry& b);
  void Run();

  mutable absl::Mutex mu_;
  absl::CondVar wake_;
  std::vector<Entry> heap_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_SIM_TASK_SCHEDULER_H_
