// Deferred work without a thread or a gRPC alarm per task: a task runs at a time, once. A process
// that holds many agent connections (agent-sim) gives them one scheduler for their timers
// (AgentConnectionOptions::timers), and agent-sim's simulated agents run their actions' steps and
// query answers on it; agent-sim/task_scheduler.h has the thread that runs one, tests step one by
// hand.
#ifndef FLEETD_AGENT_TASK_SCHEDULER_H_
#define FLEETD_AGENT_TASK_SCHEDULER_H_

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

namespace fleet::agent {

// Thread-safe: At() may be called from any thread, tasks included.
class TaskScheduler {
 public:
  using Task = absl::AnyInvocable<void() &&>;

  virtual ~TaskScheduler() = default;
  // The scheduler's time, by which `at` is read.
  virtual absl::Time Now() = 0;
  // Runs `task` once, at or after `at`, unless the scheduler stops first (then it is destroyed
  // without running). Tasks due at the same time run in the order they were added.
  virtual void At(absl::Time at, Task task) = 0;
};

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_TASK_SCHEDULER_H_
