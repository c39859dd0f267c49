// The reconnect scenario: agents resyncing after fleetd restarts.
#include "absl/strings/str_cat.h"
#include "bench/scale/scenarios.h"

namespace fleet::bench {
namespace {

constexpr absl::Duration kResyncTimeout = absl::Seconds(120);

}  // namespace

ScenarioResult RunReconnect(BenchEnv& env) {
  ScenarioResult scenario = NewScenario(env, "reconnect", "Agents resynced after a fleetd restart");
  const int agents = Scaled(env, 10'000);
  const nlohmann::ordered_json params = {{"agents", agents}, {"connections", agents}};
  CaseResult resync =
      NewCase(absl::StrCat(agents, " agents, one connection each: restart to all resynced"), params,
              "restart_to_all_resynced", "s", Target{.stat = "p99", .op = "<", .value = 10});
  CaseResult full =
      NewCase(absl::StrCat(agents, " agents: FULL documents sent while resyncing"), params,
              "full_documents", "count", Target{.stat = "p99", .op = "<", .value = 1});

  absl::StatusOr<std::unique_ptr<AgentPopulation>> population =
      StartPopulation(env, agents, agents);
  if (!population.ok()) {
    resync.error = full.error = std::string(population.status().message());
  } else {
    agent::Simulator& sim = (*population)->simulator();
    std::vector<double> stop_seconds;
    RunRounds(resync, RoundsOr(env, 3), [&](int) -> absl::StatusOr<double> {
      const int64_t full_before = sim.full_updates();
      const int64_t target = sim.applied() + agents;
      // fleetd tells every agent to go away and stops; agents retry with backoff until the new
      // process listens; then a new revision is committed, which every agent must end up with.
      const absl::Time stop_at = absl::Now();
      if (absl::Status stopped = env.fleetd->Stop(); !stopped.ok()) return stopped;
      stop_seconds.push_back(absl::ToDoubleSeconds(absl::Now() - stop_at));
      if (absl::Status started = env.fleetd->Restart(); !started.ok()) return started;
      const absl::Time serving_at = absl::Now();
      if (absl::Status applied = ApplyNextPolicy(env); !applied.ok()) return applied;
      absl::StatusOr<Arrival> arrival = (*population)->WaitAcked(target, kResyncTimeout);
      if (!arrival.ok()) return arrival.status();
      full.samples.push_back(static_cast<double>(sim.full_updates() - full_before));
      return absl::ToDoubleSeconds(arrival->last - serving_at);
    });
    const agent::SimulatorReport report = sim.Report();
    resync.figures = {{"errors", report.errors},
                      {"reconnects", report.reconnects},
                      {"graceful_stop_s_median", Median(stop_seconds)}};
  }
  scenario.cases.push_back(std::move(resync));
  scenario.cases.push_back(std::move(full));
  scenario.notes.push_back(
      "Each round stops fleetd with SIGTERM (agents hear GoAway), starts it again on the same "
      "store and port, and commits a new revision as soon as it serves; the time runs from "
      "then to the last agent's Ack of that revision. Agents reconnect with jittered exponential "
      "backoff (100 ms to 5 s) and resume from their applied revision.");
  scenario.duration = absl::Now() - scenario.started_at;
  return scenario;
}

}  // namespace fleet::bench
