#include "bench/scale/agent_population.h"

#include <functional>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace fleet::bench {
namespace {

// How often waits look at the counters; the times they return come from the agents themselves,
// so polling only delays the wait's return, not the figure.
constexpr absl::Duration kPoll = absl::Milliseconds(2);
constexpr absl::Duration kProgressEvery = absl::Seconds(5);

// Polls `count` until it reaches `target`; false after `timeout`.
bool WaitForCount(const std::function<int64_t()>& count, int64_t target, absl::Duration timeout,
                  const std::string& what) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + timeout;
  absl::Time next_progress = start + kProgressEvery;
  while (count() < target) {
    const absl::Time now = absl::Now();
    if (now >= deadline) return false;
    if (now >= next_progress) {
      Progress(absl::StrCat("  ", what, ": ", count(), "/", target));
      next_progress = now + kProgressEvery;
    }
    absl::SleepFor(kPoll);
  }
  return true;
}

}  // namespace

agent::SimBehavior InstantBehavior() {
  return agent::SimBehavior{.action_duration = absl::ZeroDuration(),
                            .action_progress_steps = 0,
                            .action_failure_rate = 0,
                            .query_latency = absl::ZeroDuration(),
                            .query_error_rate = 0,
                            .query_rows = 1};
}

void Progress(const std::string& message) {
  std::cerr << "fleet-bench: " << message << "\n" << std::flush;
}

absl::StatusOr<std::unique_ptr<AgentPopulation>> AgentPopulation::Start(
    const PopulationOptions& options) {
  const absl::Time deadline = absl::Now() + options.start_timeout;
  absl::StatusOr<std::unique_ptr<agent::Simulator>> simulator =
      agent::Simulator::Create({.server = options.server,
                                .enroll_token = options.enroll_token,
                                .agents = options.agents,
                                .connections = options.connections,
                                .state_dir = options.state_dir,
                                .enroll_concurrency = 64,
                                .behavior = options.behavior});
  if (!simulator.ok()) return simulator.status();
  if (absl::Status enrolled = (*simulator)->Enroll(); !enrolled.ok()) return enrolled;
  const agent::SimulatorReport enrolled = (*simulator)->Report();
  if (enrolled.enrolled != options.agents) {
    return absl::InternalError(
        absl::StrCat("only ", enrolled.enrolled, " of ", options.agents, " agents enrolled"));
  }
  (*simulator)->Start();
  std::unique_ptr<AgentPopulation> population(
      new AgentPopulation(*std::move(simulator), options.agents));
  agent::Simulator& sim = *population->simulator_;
  const int64_t agents = options.agents;
  if (!WaitForCount([&sim] { return sim.connected_now(); }, agents, deadline - absl::Now(),
                    "connected") ||
      !WaitForCount([&sim] { return sim.applied(); }, agents, deadline - absl::Now(),
                    "first policy applied")) {
    return absl::DeadlineExceededError(
        absl::StrCat(agents, " agents did not all connect and apply their policy within ",
                     absl::FormatDuration(options.start_timeout), ": ", sim.connected_now(),
                     " connected, ", sim.applied(), " applied, ", sim.Report().errors, " errors"));
  }
  return population;
}

AgentPopulation::~AgentPopulation() { simulator_->Stop(); }

absl::StatusOr<Arrival> AgentPopulation::WaitAcked(int64_t count, absl::Duration timeout) {
  agent::Simulator& sim = *simulator_;
  return WaitFor([&sim] { return sim.applied(); }, [&sim] { return sim.last_acked_at(); }, count,
                 timeout, "acked");
}

absl::StatusOr<Arrival> AgentPopulation::WaitReceived(int64_t count, absl::Duration timeout) {
  agent::Simulator& sim = *simulator_;
  return WaitFor([&sim] { return sim.received(); }, [&sim] { return sim.last_received_at(); },
                 count, timeout, "received");
}

absl::StatusOr<Arrival> AgentPopulation::WaitFor(const std::function<int64_t()>& count,
                                                 const std::function<absl::Time()>& last,
                                                 int64_t target, absl::Duration timeout,
                                                 const std::string& what) {
  if (!WaitForCount(count, target, timeout, what)) {
    return absl::DeadlineExceededError(absl::StrCat("only ", count(), " of ", target, " updates ",
                                                    what, " within ",
                                                    absl::FormatDuration(timeout)));
  }
  return Arrival{.last = last()};
}

}  // namespace fleet::bench
