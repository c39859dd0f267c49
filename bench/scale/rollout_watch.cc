// The rollout-watch scenario: operators watching a rollout (WatchRolloutStatus) while it happens,
// how soon every watcher sees it complete, and what the watches cost fleetd, during the rollout
// and while nothing changes.
#include <grpcpp/client_context.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/scale/scenarios.h"
#include "fleet/v1/admin.grpc.pb.h"

namespace fleet::bench {
namespace {

// A policy of its own, with agents of its own: its rollout status then counts exactly this
// scenario's agents, whatever other scenarios enrolled into theirs.
constexpr char kPolicy[] = "bench-rollout-watch";
constexpr absl::Duration kCompleteTimeout = absl::Seconds(120);
constexpr absl::Duration kIdleHold = absl::Seconds(2);
// Lets the previous round's acks reach fleetd before the next commit.
constexpr absl::Duration kSettle = absl::Milliseconds(300);
constexpr absl::Duration kProgressEvery = absl::Seconds(5);
// Bounds each watch stream beyond the waits that should end it first.
constexpr absl::Duration kStreamSlack = absl::Seconds(30);

struct RolloutWatchCase {
  int agents;
  int connections;
  int watchers;
  int rounds;
};

std::string Describe(const v1::RolloutStatus& status) {
  return absl::StrCat("revision ", status.revision(), ": ", status.agents(), " agents, ",
                      status.acked(), " acked, ", status.pending(), " pending, ",
                      status.pending_offline(), " pending offline, ", status.nacked(), " nacked, ",
                      status.offline(), " offline, complete=", status.complete());
}

// `count` WatchRolloutStatus streams on one revision of a policy, opened at construction, each
// read by a thread of its own, each noting when it first saw the rollout complete with all of
// `agents` acked. Thread-safe.
class RolloutWatchers {
 public:
  // `stub` is not owned and must outlive this; `deadline` bounds every stream.
  RolloutWatchers(v1::AdminService::Stub& stub, const std::string& token,
                  v1::GetRolloutStatusRequest request, int64_t agents, int count,
                  absl::Time deadline)
      : stub_(stub), request_(std::move(request)), agents_(agents) {
    for (int i = 0; i < count; ++i) contexts_.push_back(AdminContext(token, deadline));
    for (int i = 0; i < count; ++i) threads_.emplace_back([this, i] { Watch(i); });
  }

  // Cancels every stream and joins its thread (a context cancelled before its call starts
  // cancels the call as it starts).
  ~RolloutWatchers() {
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
    }
    for (const std::unique_ptr<grpc::ClientContext>& context : contexts_) context->TryCancel();
    for (std::thread& thread : threads_) thread.join();
  }

  RolloutWatchers(const RolloutWatchers&) = delete;
  RolloutWatchers& operator=(const RolloutWatchers&) = delete;

  // Waits until every watcher saw the rollout complete, and returns when the last one did. Else
  // the error of the first stream that ended, or after `timeout` DEADLINE_EXCEEDED with how many
  // did and the latest status of one that did not.
  absl::StatusOr<absl::Time> AwaitComplete(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    const absl::Condition settled(
        +[](RolloutWatchers* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
          return !self->error_.ok() || self->complete_ == self->count();
        },
        this);
    absl::MutexLock lock(&mu_);
    // In slices, to show progress on a slow rollout.
    while (!mu_.AwaitWithDeadline(settled, std::min(deadline, absl::Now() + kProgressEvery)) &&
           absl::Now() < deadline) {
      Progress(absl::StrCat("    watchers complete: ", complete_, "/", count()));
    }
    if (!error_.ok()) return error_;
    if (complete_ < count()) {
      return absl::DeadlineExceededError(absl::StrCat(
          "only ", complete_, " of ", count(), " watchers saw revision ", request_.revision(),
          " of policy ", request_.policy(), " complete with all ", agents_, " agents acked within ",
          absl::FormatDuration(timeout), "; the latest status a waiting watcher got: ",
          lagging_.has_value() ? Describe(*lagging_) : "none"));
    }
    return last_complete_;
  }

  // OK while every stream is open; else why the first one ended.
  absl::Status Error() const {
    absl::MutexLock lock(&mu_);
    return error_;
  }

  // How many statuses the watchers have received in all.
  int64_t statuses() const {
    absl::MutexLock lock(&mu_);
    return statuses_;
  }

 private:
  int count() const { return static_cast<int>(contexts_.size()); }

  // Thread `index`: reads its stream until it is cancelled or ends.
  void Watch(int index) {
    grpc::ClientContext& context = *contexts_[index];
    std::unique_ptr<grpc::ClientReader<v1::RolloutStatus>> reader =
        stub_.WatchRolloutStatus(&context, request_);
    v1::RolloutStatus status;
    bool complete = false;
    while (reader->Read(&status)) {
      const absl::Time now = absl::Now();
      const bool done = status.revision() == request_.revision() && status.complete() &&
                        status.acked() == agents_;
      absl::MutexLock lock(&mu_);
      ++statuses_;
      if (complete) continue;
      if (done) {
        complete = true;
        ++complete_;
        last_complete_ = std::max(last_complete_, now);
      } else {
        lagging_ = status;
      }
    }
    const grpc::Status finish = reader->Finish();
    absl::MutexLock lock(&mu_);
    if (cancelled_ || !error_.ok()) return;
    error_ = absl::Status(
        finish.ok() ? absl::StatusCode::kUnavailable
                    : static_cast<absl::StatusCode>(finish.error_code()),
        absl::StrCat("watcher ", index + 1, " of ", count(), ": WatchRolloutStatus ended ",
                     complete ? "after" : "before", " the rollout completed: ",
                     finish.ok() ? "fleetd closed the stream" : finish.error_message()));
  }

  v1::AdminService::Stub& stub_;  // not owned
  const v1::GetRolloutStatusRequest request_;
  const int64_t agents_;
  // Filled before the threads start, then only read.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts_;
  std::vector<std::thread> threads_;

  mutable absl::Mutex mu_;
  int complete_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_complete_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::optional<v1::RolloutStatus> lagging_ ABSL_GUARDED_BY(mu_);
  int64_t statuses_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// The CPU seconds between two readings, to the millisecond (the readings count clock ticks, so
// more digits would be noise of the subtraction).
double CpuBetween(double before, double after) { return std::round((after - before) * 1e3) / 1e3; }

// fleetd's CPU seconds over the next `hold`.
absl::StatusOr<double> CpuOver(testing::FleetdProcess& fleetd, absl::Duration hold) {
  absl::StatusOr<double> before = fleetd.CpuSeconds();
  if (!before.ok()) return before.status();
  absl::SleepFor(hold);
  absl::StatusOr<double> after = fleetd.CpuSeconds();
  if (!after.ok()) return after.status();
  return CpuBetween(*before, *after);
}

std::vector<CaseResult> RunCase(BenchEnv& env, const RolloutWatchCase& spec) {
  const int agents = Scaled(env, spec.agents);
  const int connections = std::min(agents, Scaled(env, spec.connections));
  const int watcher_count = Scaled(env, spec.watchers);
  const std::string name =
      absl::StrCat(PopulationName(agents, connections), ", ", watcher_count, " watchers");
  const nlohmann::ordered_json params = {{"agents", agents},
                                         {"connections", connections},
                                         {"watchers", watcher_count},
                                         {"idle_hold_s", absl::ToDoubleSeconds(kIdleHold)}};
  std::vector<CaseResult> cases = {
      NewCase(name + ": apply to every watcher complete", params, "apply_to_watchers_complete",
              "s"),
      NewCase(name + ": fleetd CPU during the rollout", params, "fleetd_cpu_rollout", "cpu_s"),
      NewCase(
          absl::StrCat(name, ": fleetd CPU over a ", absl::FormatDuration(kIdleHold), " idle hold"),
          params, "fleetd_cpu_idle_hold", "cpu_s")};
  CaseResult& complete = cases[0];
  CaseResult& rollout_cpu = cases[1];
  CaseResult& idle_cpu = cases[2];
  auto fail = [&cases](const absl::Status& status) {
    for (CaseResult& c : cases) c.error = std::string(status.message());
    return cases;
  };

  absl::StatusOr<std::string> token = EnrollmentTokenFor(env, kPolicy);
  if (!token.ok()) return fail(token.status());
  absl::StatusOr<std::unique_ptr<AgentPopulation>> population =
      StartPopulation(env, agents, connections, *token, env.state_dir + "/rollout-watch");
  if (!population.ok()) return fail(population.status());
  agent::Simulator& sim = (*population)->simulator();

  const std::unique_ptr<v1::AdminService::Stub> stub = NewAdminStub(env);
  // fleetd with the same agents and no watcher, for the hold to be read against.
  absl::SleepFor(kSettle);
  absl::StatusOr<double> quiet = CpuOver(*env.fleetd, kIdleHold);
  if (!quiet.ok()) return fail(quiet.status());

  std::vector<double> agents_acked_s;
  std::vector<double> statuses_per_watcher;
  RunRounds(complete, RoundsOr(env, spec.rounds), [&](int) -> absl::StatusOr<double> {
    absl::SleepFor(kSettle);
    absl::StatusOr<int64_t> revision = ApplyNextRevision(env, kPolicy);
    if (!revision.ok()) return revision.status();
    const absl::Time applied_at = absl::Now();
    absl::StatusOr<double> cpu_start = env.fleetd->CpuSeconds();
    if (!cpu_start.ok()) return cpu_start.status();
    v1::GetRolloutStatusRequest request;
    request.set_policy(kPolicy);
    request.set_revision(*revision);
    RolloutWatchers watchers(*stub, env.admin_token, request, agents, watcher_count,
                             applied_at + kCompleteTimeout + kIdleHold + kStreamSlack);
    absl::StatusOr<absl::Time> last = watchers.AwaitComplete(kCompleteTimeout);
    absl::StatusOr<double> cpu_complete = env.fleetd->CpuSeconds();
    if (!last.ok()) return last.status();
    if (!cpu_complete.ok()) return cpu_complete.status();
    const int64_t statuses = watchers.statuses();
    // The watchers stay open; nothing changes.
    absl::StatusOr<double> idle = CpuOver(*env.fleetd, kIdleHold);
    if (!idle.ok()) return idle.status();
    if (absl::Status ended = watchers.Error(); !ended.ok()) return ended;
    agents_acked_s.push_back(absl::ToDoubleSeconds(sim.last_acked_at() - applied_at));
    statuses_per_watcher.push_back(static_cast<double>(statuses) / watcher_count);
    rollout_cpu.samples.push_back(CpuBetween(*cpu_start, *cpu_complete));
    idle_cpu.samples.push_back(*idle);
    return absl::ToDoubleSeconds(*last - applied_at);
  });
  if (complete.error.has_value()) rollout_cpu.error = idle_cpu.error = complete.error;
  const agent::SimulatorReport report = sim.Report();
  complete.figures = {{"last_agent_ack_s_median", Median(agents_acked_s)},
                      {"statuses_per_watcher_median", Median(statuses_per_watcher)},
                      {"errors", report.errors},
                      {"reconnects", report.reconnects}};
  idle_cpu.figures = {{"fleetd_cpu_idle_without_watchers", *quiet}};
  return cases;
}

}  // namespace

ScenarioResult RunRolloutWatch(BenchEnv& env) {
  ScenarioResult scenario = NewScenario(env, "rollout-watch",
                                        "Rollout watchers: apply to every watcher complete, and "
                                        "fleetd's CPU for them");
  const std::vector<RolloutWatchCase> specs = {
      {.agents = 10'000, .connections = 100, .watchers = 100, .rounds = 5},
  };
  for (const RolloutWatchCase& spec : specs) {
    for (CaseResult& c : RunCase(env, spec)) scenario.cases.push_back(std::move(c));
  }
  scenario.notes.push_back(
      "Each round commits a new revision of a policy of the scenario's own (its agents are "
      "enrolled into it alone) and, as soon as ApplyPolicy returns, opens the watchers: "
      "concurrent WatchRolloutStatus streams for that revision over one connection. The time runs "
      "from ApplyPolicy's return until the last watcher received a status with complete=true and "
      "acked equal to the agents; fleetd's CPU (utime+stime of /proc/PID/stat) is taken over the "
      "same window, and again over an idle hold afterwards with the watchers still open and "
      "nothing changing, which is what watching costs when there is nothing to tell.");
  scenario.notes.push_back(
      "fleetd_cpu_idle_without_watchers is the same hold with the agents connected and no "
      "watcher, once per case. last_agent_ack_s is when the last agent queued its Ack, from the "
      "same start: the rest of the window is fleetd learning of the acks and telling the "
      "watchers.");
  scenario.duration = absl::Now() - scenario.started_at;
  return scenario;
}

}  // namespace fleet::bench
