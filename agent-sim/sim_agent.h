// One simulated agent's actions and live queries (agent.proto, "Actions" and "Live queries"):
// each action is ACCEPTED at once, reports RUNNING with progress in steps over its duration, then
// SUCCEEDED or FAILED (at the failure rate), except that one done the moment it comes (no
// duration, no steps, no restart) is answered with its final status alone; an unknown type (or bad
// arguments) is REJECTED; an ActionCancel stops a running action (CANCELLED). An upgrade (and a
// restart) reports its progress, then "restarts": the connection reconnects (with the upgrade's
// version in its Hello), and the action SUCCEEDS once the new stream is welcomed. An unenroll
// SUCCEEDS and the agent goes on running. A query is answered after the latency with synthetic rows
// ({"host": hostname, "n": i}), or with an error at the error rate; with no latency, an answer
// that fits in one result is the handler's own return. Timed steps are tasks on a
// TaskScheduler shared by every agent: no thread per agent.
#ifndef FLEETD_AGENT_SIM_SIM_AGENT_H_
#define FLEETD_AGENT_SIM_SIM_AGENT_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent-sim/task_scheduler.h"
#include "agent/action_handler.h"
#include "agent/agent_outbox.h"
#include "agent/query_handler.h"

namespace fleet::agent {

// How simulated agents play actions and queries (agent-sim's --action-* and --query-* flags).
struct SimBehavior {
  // From the start of an action to its final state; zero: at once. At least zero, finite.
  absl::Duration action_duration = absl::Seconds(2);
  // RUNNING reports with progress, evenly spread over the duration before the final state; 0 to
  // 100.
  int action_progress_steps = 3;
  // Probability (0 to 1) that an action ends FAILED rather than SUCCEEDED.
  double action_failure_rate = 0.0;
  // From receiving a query to answering it. At least zero, finite.
  absl::Duration query_latency = absl::Milliseconds(50);
  // Probability (0 to 1) that a query is answered with an error.
  double query_error_rate = 0.0;
  // Rows in each answer; 0 to 1,000,000 (sent in several results of at most 512 KiB each).
  int query_rows = 1;
};

// OK, or INVALID_ARGUMENT naming the flag (--action-duration, ...) of the first field out of
// range.
[[nodiscard]] absl::Status ValidateBehavior(const SimBehavior& behavior);

// What the agents of a simulator did with actions and queries, at one moment.
struct SimActivityCounts {
  // Actions new to their agent (repeats not counted), and repeats answered from the record.
  int64_t actions_received = 0;
  int64_t actions_repeated = 0;
  // Final states reported.
  int64_t actions_succeeded = 0;
  int64_t actions_failed = 0;
  int64_t actions_rejected = 0;
  int64_t actions_cancelled = 0;
  int64_t queries_received = 0;
  // Queries whose rows (all of them) or error went out.
  int64_t queries_answered = 0;
  int64_t queries_errored = 0;
  // Answers that could not go out: the stream ended or the deadline passed first.
  int64_t queries_dropped = 0;
};

// The same, counted as it happens; thread-safe.
struct SimActivity {
  std::atomic<int64_t> actions_received{0};
  std::atomic<int64_t> actions_repeated{0};
  std::atomic<int64_t> actions_succeeded{0};
  std::atomic<int64_t> actions_failed{0};
  std::atomic<int64_t> actions_rejected{0};
  std::atomic<int64_t> actions_cancelled{0};
  std::atomic<int64_t> queries_received{0};
  std::atomic<int64_t> queries_answered{0};
  std::atomic<int64_t> queries_errored{0};
  std::atomic<int64_t> queries_dropped{0};

  SimActivityCounts Counts() const;
};

// Thread-safe: the handler calls come on the connection's thread (with its lock held), the
// tasks on the scheduler's. Tasks refer to the agent: the scheduler must stop before it goes.
class SimAgent final : public ActionHandler, public QueryHandler {
 public:
  // `behavior` is copied; `scheduler` and `activity` are not owned and outlive the agent.
  // `hostname` names the agent in query rows; `seed` seeds its failure and error draws.
  SimAgent(std::string hostname, const SimBehavior& behavior, uint64_t seed,
           TaskScheduler& scheduler, SimActivity& activity);

  // The connection to answer through (not owned, outlives the agent's tasks); before the
  // connection starts.
  void Attach(AgentOutbox& outbox);

  v1::ActionStatus OnAction(const v1::AgentAction& action) override;
  std::optional<v1::ActionStatus> OnCancel(const std::string& id) override;
  std::optional<v1::QueryResult> OnQuery(const v1::AgentQuery& query) override;

  // The connection's stream was welcomed (AgentConnectionHooks::on_connected): upgrades and
  // restarts waiting for their reconnect succeed now.
  void OnConnected();
  // An action was sent again and answered from the record (on_repeated_action).
  void OnRepeated();

  // The version the agent runs: the last upgrade's, empty as enrolled.
  std::string version() const;

 private:
  struct Running {
    std::string type;
    // An upgrade's target version.
    std::string version;
    absl::Time start;
    // RUNNING reports sent so far.
    int steps_done = 0;
  };
  // Waits for the reconnect that ends an upgrade or restart.
  struct Restarting {
    std::string id;
    std::string version;
  };

  // The next step of action `id`, a task: a RUNNING report, or its end.
  void Step(const std::string& id);
  // The final status of `running` (action `id`, not or no longer in running_), FAILED when
  // `fails`, counted in activity_.
  v1::ActionStatus Finished(const std::string& id, const Running& running, bool fails)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // When step `step` (1-based; steps + 1 is the end) of an action started at `start` is due.
  absl::Time StepTime(absl::Time start, int step) const;
  // Answers query `id`, a task.
  void Answer(const std::string& id);
  // The answer to query `id`: an error (then `error` is set) at the error rate, else the rows.
  std::vector<v1::QueryResult> AnswerOf(const std::string& id, bool& error);
  // Sends `results` (an answer, an error when `error`) and counts it, or counts it dropped when
  // the stream no longer takes it.
  void Send(std::vector<v1::QueryResult>& results, bool error);
  // The rows of one answer, in results of at most 512 KiB of rows each; the last marked.
  std::vector<v1::QueryResult> Rows(const std::string& id) const;
  // Sends a later status of an action.
  void Report(v1::ActionStatus status);

  const std::string hostname_;
  // hostname_ as a JSON string, for the rows.
  const std::string hostname_json_;
  const SimBehavior behavior_;
  TaskScheduler& scheduler_;       // not owned
  SimActivity& activity_;          // not owned
  AgentOutbox* outbox_ = nullptr;  // not owned; set before the connection starts

  mutable absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Running> running_ ABSL_GUARDED_BY(mu_);
  std::vector<Restarting> restarting_ ABSL_GUARDED_BY(mu_);
  std::string version_ ABSL_GUARDED_BY(mu_);
};

// The action types agent-sim runs: upgrade, restart, unenroll, diagnostics, custom.
bool IsSimActionType(const std::string& type);

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_SIM_SIM_AGENT_H_
