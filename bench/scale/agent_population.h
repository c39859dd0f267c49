// N simulated agents in this process (agent-sim's Simulator: real gRPC streams on the callback
// API, real policy application and acks), connected to a fleetd, and the waits that the scenarios
// time them with.
#ifndef FLEETD_BENCH_SCALE_AGENT_POPULATION_H_
#define FLEETD_BENCH_SCALE_AGENT_POPULATION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent-sim/simulator.h"

namespace fleet::bench {

// How the harness's agents play actions and queries: they finish an action as soon as they get
// it (SUCCEEDED, no progress steps in between) and answer a query at once with one row, so that
// the action and query scenarios time fleetd, not a simulated wait.
agent::SimBehavior InstantBehavior();

struct PopulationOptions {
  // fleetd's agent address.
  std::string server;
  std::string enroll_token;
  // Identities of agents "sim-0" to "sim-N-1"; agents enrolled by an earlier population are
  // reused, the others enroll now.
  std::string state_dir;
  int agents = 0;
  // gRPC connections the agents' streams are spread over; agents for one each.
  int connections = 0;
  // Bounds enrollment plus connecting plus the first policy.
  absl::Duration start_timeout = absl::Minutes(5);
  agent::SimBehavior behavior = InstantBehavior();
};

// What Wait* returns: when the last of the awaited updates arrived (or was acked).
struct Arrival {
  absl::Time last;
};

// Thread-compatible: one scenario drives it.
class AgentPopulation {
 public:
  // Enrolls, starts every agent, and waits until each is connected and has acked the policy it
  // was enrolled into. DEADLINE_EXCEEDED says how far it got.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AgentPopulation>> Start(
      const PopulationOptions& options);

  // Stops every agent.
  ~AgentPopulation();

  int agents() const { return agents_; }
  agent::Simulator& simulator() { return *simulator_; }

  // Waits until the simulator has acked (WaitAcked) or read (WaitReceived) `count` updates in all,
  // and returns when the last one was; DEADLINE_EXCEEDED with the count reached otherwise.
  [[nodiscard]] absl::StatusOr<Arrival> WaitAcked(int64_t count, absl::Duration timeout);
  [[nodiscard]] absl::StatusOr<Arrival> WaitReceived(int64_t count, absl::Duration timeout);

 private:
  // Polls `count` until `target`; then `last` is the arrival.
  static absl::StatusOr<Arrival> WaitFor(const std::function<int64_t()>& count,
                                         const std::function<absl::Time()>& last, int64_t target,
                                         absl::Duration timeout, const std::string& what);

  AgentPopulation(std::unique_ptr<agent::Simulator> simulator, int agents)
      : simulator_(std::move(simulator)), agents_(agents) {}

  std::unique_ptr<agent::Simulator> simulator_;
  int agents_;
};

// Prints "fleet-bench: <message>" to stderr at once: the progress a long run shows.
void Progress(const std::string& message);

}  // namespace fleet::bench

#endif  // FLEETD_BENCH_SCALE_AGENT_POPULATION_H_
