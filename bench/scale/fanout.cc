// The fanout scenario: policy commit -> acked by every agent.
#include "absl/strings/str_cat.h"
#include "bench/scale/scenarios.h"

namespace fleet::bench {
namespace {

constexpr absl::Duration kRoundTimeout = absl::Seconds(60);

struct FanoutCase {
  int agents;
  int connections;
  int rounds;
  std::optional<Target> target;
};

CaseResult RunCase(BenchEnv& env, const FanoutCase& spec) {
  const int agents = Scaled(env, spec.agents);
  const int connections = std::min(agents, Scaled(env, spec.connections));
  CaseResult result = NewCase(PopulationName(agents, connections),
                              {{"agents", agents}, {"connections", connections}},
                              "commit_to_all_acked", "s", spec.target);
  absl::StatusOr<std::unique_ptr<AgentPopulation>> population =
      StartPopulation(env, agents, connections);
  if (!population.ok()) {
    result.error = std::string(population.status().message());
    return result;
  }
  agent::Simulator& sim = (*population)->simulator();
  const int64_t full_before = sim.full_updates();
  RunRounds(result, RoundsOr(env, spec.rounds), [&](int) -> absl::StatusOr<double> {
    // Lets the previous round's acks reach fleetd before the next commit.
    absl::SleepFor(absl::Milliseconds(300));
    absl::StatusOr<absl::Duration> took =
        TimeRollout(env, **population, Until::kAcked, kRoundTimeout);
    if (!took.ok()) return took.status();
    return absl::ToDoubleSeconds(*took);
  });
  const agent::SimulatorReport report = sim.Report();
  result.figures = {{"full_documents", sim.full_updates() - full_before},
                    {"errors", report.errors},
                    {"reconnects", report.reconnects}};
  return result;
}

}  // namespace

ScenarioResult RunFanout(BenchEnv& env) {
  ScenarioResult scenario = NewScenario(env, "fanout", "Policy commit to acked by every agent");
  const std::vector<FanoutCase> cases = {
      {.agents = 1'000, .connections = 10, .rounds = 10},
      {.agents = 10'000, .connections = 100, .rounds = 10},
      {.agents = 100'000,
       .connections = 1'000,
       .rounds = 5,
       .target = Target{.stat = "p99", .op = "<", .value = 3.0}},
      {.agents = 10'000,
       .connections = 10'000,
       .rounds = 10,
       .target = Target{.stat = "p99", .op = "<", .value = 0.5}},
  };
  for (const FanoutCase& spec : cases) scenario.cases.push_back(RunCase(env, spec));
  scenario.notes.push_back(
      "Each round commits a new policy revision through the admin API (a durable write) and "
      "waits for every agent's Ack; the time runs from just before the ApplyPolicy call to the "
      "last Ack an agent queued. Agents run in the benchmark's process on the same 2 cores as "
      "fleetd.");
  scenario.duration = absl::Now() - scenario.started_at;
  return scenario;
}

}  // namespace fleet::bench
