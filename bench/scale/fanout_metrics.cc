// The fanout-metrics scenario: the fan-out of a fleetd whose /metrics is scraped every second
// against one with metrics off, both running at once and taking turns, so that what the machine
// does meanwhile falls on both alike.
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "bench/scale/metrics_scraper.h"
#include "bench/scale/scenarios.h"

namespace fleet::bench {
namespace {

constexpr absl::Duration kRoundTimeout = absl::Seconds(60);
// Prometheus scrapes every 15 s by default; fleetd's own end-to-end test scrapes every second.
constexpr absl::Duration kScrapeInterval = absl::Seconds(1);

struct MetricsCase {
  int agents;
  int connections;
  int rounds;
};

// One fleetd of the comparison, its admin client and policy, and the agents of the current case.
struct Fleet {
  std::string name;
  std::unique_ptr<testing::FleetdProcess> process;
  BenchEnv env;
  std::unique_ptr<AgentPopulation> population;
};

// Starts `binary` on a data dir of its own under env.work_dir, its HTTP endpoint on a free port
// (`http`) or off (`extra_flags`), and connects a BenchEnv to it like the run's own.
absl::StatusOr<std::unique_ptr<Fleet>> StartFleet(const BenchEnv& env, const std::string& name,
                                                  const std::string& binary, bool http,
                                                  std::vector<std::string> extra_flags) {
  auto fleet = std::make_unique<Fleet>();
  fleet->name = name;
  absl::StatusOr<std::unique_ptr<testing::FleetdProcess>> process =
      testing::FleetdProcess::Start({.binary = binary,
                                     .data_dir = absl::StrCat(env.work_dir, "/", name, "-data"),
                                     .extra_flags = std::move(extra_flags),
                                     .log_path = absl::StrCat(env.work_dir, "/", name, ".log"),
                                     .http = http});
  if (!process.ok()) {
    return absl::Status(
        process.status().code(),
        absl::StrCat("starting the ", name, " fleetd: ", process.status().message()));
  }
  fleet->process = *std::move(process);
  Progress(absl::StrCat(name, " fleetd serving: agents ", fleet->process->agent_address(),
                        ", http ", http ? fleet->process->http_address() : "off", ", log ",
                        fleet->process->log_path()));
  BenchEnv& own = fleet->env;
  own.fleetd = fleet->process.get();
  own.policy = env.policy;
  own.state_dir = absl::StrCat(env.state_dir, "/", name);
  own.scale = env.scale;
  own.rounds = env.rounds;
  own.payload_bytes = env.payload_bytes;
  std::error_code error;
  std::filesystem::create_directories(own.state_dir, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create ", own.state_dir, ": ", error.message()));
  }
  if (absl::Status connected = ConnectEnv(own); !connected.ok()) return connected;
  return fleet;
}

// What one round measured on one fleet.
struct RoundResult {
  // From just before ApplyPolicy to the last agent's Ack.
  double seconds = 0;
  // fleetd's CPU (user plus system) over the same time, scrapes answered meanwhile included.
  double cpu_seconds = 0;
};

// One round on `fleet`: a new revision, timed until every agent acked it.
absl::StatusOr<RoundResult> Round(Fleet& fleet) {
  // Lets the previous round's acks reach fleetd before the next commit.
  absl::SleepFor(absl::Milliseconds(300));
  absl::StatusOr<double> cpu_before = fleet.process->CpuSeconds();
  absl::StatusOr<absl::Duration> took =
      cpu_before.ok() ? TimeRollout(fleet.env, *fleet.population, Until::kAcked, kRoundTimeout)
                      : cpu_before.status();
  absl::StatusOr<double> cpu_after = took.ok() ? fleet.process->CpuSeconds() : took.status();
  if (!cpu_after.ok()) {
    return absl::Status(cpu_after.status().code(),
                        absl::StrCat(fleet.name, " fleetd: ", cpu_after.status().message()));
  }
  return RoundResult{.seconds = absl::ToDoubleSeconds(*took),
                     .cpu_seconds = *cpu_after - *cpu_before};
}

// One measure of a population on both fleets: the off and on samples, and the on/off ratio of
// each pair.
struct Comparison {
  CaseResult off;
  CaseResult on;
  CaseResult ratio;

  Comparison(const std::string& population, const nlohmann::ordered_json& params,
             const std::string& what, const std::string& metric, const std::string& unit)
      : off(NewCase(absl::StrCat(population, ", metrics off: ", what), params, metric, unit)),
        on(NewCase(absl::StrCat(population, ", /metrics scraped every second: ", what), params,
                   metric, unit)),
        ratio(NewCase(absl::StrCat(population, ", on/off: ", what), params,
                      absl::StrCat(metric, "_on_over_off"), "ratio",
                      Target{.stat = "median", .op = "<", .value = 1.05})) {}

  void Add(double off_value, double on_value) {
    off.samples.push_back(off_value);
    on.samples.push_back(on_value);
    ratio.samples.push_back(on_value / off_value);
    ratio.figures["ratio_of_medians"] = Median(on.samples) / Median(off.samples);
  }
};

// The rounds of one case, in pairs (off then on, then on then off, ...): the time to every Ack
// and fleetd's CPU meanwhile, each as off, on and on/off.
std::vector<CaseResult> RunCase(const BenchEnv& env, Fleet& off, Fleet& on,
                                const MetricsScraper& scraper, const MetricsCase& spec) {
  const int agents = Scaled(env, spec.agents);
  const int connections = std::min(agents, Scaled(env, spec.connections));
  const std::string population = PopulationName(agents, connections);
  const nlohmann::ordered_json params = {{"agents", agents}, {"connections", connections}};
  Comparison wall(population, params, "commit to every Ack", "commit_to_all_acked", "s");
  Comparison cpu(population, params, "fleetd CPU meanwhile", "fleetd_cpu_rollout", "cpu_s");
  const auto results = [&] {
    return std::vector<CaseResult>{wall.off, wall.on, wall.ratio, cpu.off, cpu.on, cpu.ratio};
  };
  const auto fail = [&](const absl::Status& status) {
    wall.ratio.error = std::string(status.message());
    Progress(absl::StrCat("  ", population, ": ", *wall.ratio.error));
    return results();
  };
  for (Fleet* fleet : {&off, &on}) {
    absl::StatusOr<std::unique_ptr<AgentPopulation>> started =
        StartPopulation(fleet->env, agents, connections);
    if (!started.ok()) return fail(started.status());
    fleet->population = *std::move(started);
  }
  const int64_t scrapes_before = scraper.scrapes();
  const int64_t failures_before = scraper.failures();
  const int rounds = RoundsOr(env, spec.rounds);
  for (int i = 0; i < rounds; ++i) {
    RoundResult took[2];  // off, on
    for (const int which : i % 2 == 0 ? std::vector<int>{0, 1} : std::vector<int>{1, 0}) {
      absl::StatusOr<RoundResult> round = Round(which == 0 ? off : on);
      if (!round.ok()) return fail(round.status());
      took[which] = *round;
    }
    wall.Add(took[0].seconds, took[1].seconds);
    cpu.Add(took[0].cpu_seconds, took[1].cpu_seconds);
    Progress(absl::StrCat("  ", population, ": pair ", i + 1, "/", rounds, ": off ",
                          took[0].seconds, " s (CPU ", took[0].cpu_seconds, " s), on ",
                          took[1].seconds, " s (CPU ", took[1].cpu_seconds, " s)"));
  }
  wall.ratio.figures["scrapes"] = scraper.scrapes() - scrapes_before;
  wall.ratio.figures["scrape_failures"] = scraper.failures() - failures_before;
  wall.ratio.figures["exposition_bytes"] = scraper.last_bytes();
  off.population.reset();
  on.population.reset();
  return results();
}

}  // namespace

ScenarioResult RunFanoutMetrics(BenchEnv& env) {
  ScenarioResult scenario =
      NewScenario(env, "fanout-metrics", "Fan-out with /metrics scraped against metrics off");
  const bool baseline = !env.baseline_fleetd.empty();
  scenario.conditions["off_fleetd"] = baseline ? env.baseline_fleetd : env.fleetd_binary;
  scenario.conditions["on_fleetd"] = env.fleetd_binary;
  absl::StatusOr<std::unique_ptr<Fleet>> off = StartFleet(
      env, "off", baseline ? env.baseline_fleetd : env.fleetd_binary, /*http=*/false,
      baseline ? std::vector<std::string>{} : std::vector<std::string>{"--http-addr", ""});
  absl::StatusOr<std::unique_ptr<Fleet>> on =
      off.ok() ? StartFleet(env, "on", env.fleetd_binary, /*http=*/true, {}) : off.status();
  if (!on.ok()) {
    CaseResult failed = NewCase("setup", {}, "commit_to_all_acked", "s");
    failed.error = std::string(on.status().message());
    scenario.cases.push_back(std::move(failed));
  } else {
    MetricsScraper scraper((*on)->process->http_address(), kScrapeInterval);
    // Both fleets' agents live in this process at once: 50,000 agents each make fanout's largest
    // population (two of 100,000 outrun 2 cores: streams starve and drop while the second
    // connects), and 8,000 one-connection agents each stay under a 20,000 open-file limit.
    const std::vector<MetricsCase> cases = {
        {.agents = 1'000, .connections = 10, .rounds = 10},
        {.agents = 10'000, .connections = 100, .rounds = 10},
        {.agents = 50'000, .connections = 500, .rounds = 10},
        {.agents = 8'000, .connections = 8'000, .rounds = 10},
    };
    for (const MetricsCase& spec : cases) {
      for (CaseResult& result : RunCase(env, **off, **on, scraper, spec)) {
        scenario.cases.push_back(std::move(result));
      }
    }
  }
  scenario.notes.push_back(
      "Two fleetds run at once, each with its own store and agents: one with metrics off (the "
      "--baseline-fleetd binary when given, else the same binary with --http-addr ''), one with "
      "/metrics scraped every second by this process. Their rounds alternate in pairs (off then "
      "on, then on then off), so that the machine's other load falls on both alike; each on/off "
      "case gives the ratio of each pair, and ratio_of_medians. A round is fanout's: a new "
      "revision, timed from just before ApplyPolicy to the last agent's Ack, and fleetd's CPU "
      "seconds over the same time (less sensitive than the time to what else the machine runs).");
  scenario.duration = absl::Now() - scenario.started_at;
  return scenario;
}

}  // namespace fleet::bench
