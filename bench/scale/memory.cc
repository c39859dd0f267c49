// The memory scenario: fleetd's resident memory per connected agent.
#include "absl/strings/str_cat.h"
#include "bench/scale/scenarios.h"

namespace fleet::bench {
namespace {

constexpr int kSamples = 5;

struct MemoryCase {
  int agents;
  int connections;
  double target_kb;
};

// The median of kSamples RSS readings `every` apart.
absl::StatusOr<double> MedianRss(testing::FleetdProcess& fleetd, absl::Duration every) {
  std::vector<double> readings;
  for (int i = 0; i < kSamples; ++i) {
    absl::StatusOr<int64_t> rss = fleetd.RssBytes();
    if (!rss.ok()) return rss.status();
    readings.push_back(static_cast<double>(*rss));
    absl::SleepFor(every);
  }
  return Median(readings);
}

CaseResult RunCase(BenchEnv& env, const MemoryCase& spec) {
  const int agents = Scaled(env, spec.agents);
  const int connections = std::min(agents, Scaled(env, spec.connections));
  CaseResult result = NewCase(PopulationName(agents, connections),
                              {{"agents", agents}, {"connections", connections}}, "rss_per_agent",
                              "KB", Target{.stat = "median", .op = "<", .value = spec.target_kb});
  // A fresh process on the same store: what the agents add is the difference.
  if (absl::Status restarted = env.fleetd->Restart(); !restarted.ok()) {
    result.error = std::string(restarted.message());
    return result;
  }
  absl::SleepFor(absl::Seconds(1));
  absl::StatusOr<double> baseline = MedianRss(*env.fleetd, absl::Milliseconds(200));
  if (!baseline.ok()) {
    result.error = std::string(baseline.status().message());
    return result;
  }
  absl::StatusOr<std::unique_ptr<AgentPopulation>> population =
      StartPopulation(env, agents, connections);
  if (!population.ok()) {
    result.error = std::string(population.status().message());
    return result;
  }
  // Connected, policy applied, first status reports and state flushes done.
  absl::SleepFor(absl::Seconds(2));
  double rss = 0;
  RunRounds(result, kSamples, [&](int) -> absl::StatusOr<double> {
    absl::SleepFor(absl::Milliseconds(500));
    absl::StatusOr<int64_t> now = env.fleetd->RssBytes();
    if (!now.ok()) return now.status();
    rss = static_cast<double>(*now);
    return (rss - *baseline) / agents / 1024.0;
  });
  result.figures = {{"baseline_rss_mb", *baseline / (1 << 20)}, {"rss_mb", rss / (1 << 20)}};
  return result;
}

}  // namespace

ScenarioResult RunMemory(BenchEnv& env) {
  ScenarioResult scenario = NewScenario(env, "memory", "fleetd memory per connected agent");
  const std::vector<MemoryCase> cases = {
      {.agents = 10'000, .connections = 10'000, .target_kb = 25},
      {.agents = 10'000, .connections = 100, .target_kb = 12},
      {.agents = 100'000, .connections = 1'000, .target_kb = 12},
  };
  for (const MemoryCase& spec : cases) scenario.cases.push_back(RunCase(env, spec));
  scenario.notes.push_back(
      "Per agent = (fleetd's VmRSS with the agents connected and their policy applied - VmRSS of "
      "the freshly restarted fleetd on the same store) / agents, in KiB; 5 readings 0.5 s apart.");
  scenario.duration = absl::Now() - scenario.started_at;
  return scenario;
}

}  // namespace fleet::bench
