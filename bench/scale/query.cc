// The query scenario: one live query to every agent of a population, from the RunQuery call to
// the last result at the caller.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/scale/cpu_meter.h"
#include "bench/scale/query_timer.h"
#include "bench/scale/scenarios.h"

namespace fleet::bench {
namespace {

// What the agents are asked; agent-sim answers any query text with synthetic rows.
constexpr char kQueryText[] = "SELECT name, version FROM os_version";
// Longer than any round should take: a round that times out fails the case.
constexpr absl::Duration kQueryTimeout = absl::Seconds(60);
constexpr absl::Duration kStreamSlack = absl::Seconds(10);
// Lets the previous round's last messages settle before the next query.
constexpr absl::Duration kSettle = absl::Milliseconds(300);

struct QueryCase {
  int agents;
  int connections;
  int rounds;
  Target target;
};

CaseResult RunCase(BenchEnv& env, const QueryCase& spec) {
  const int agents = Scaled(env, spec.agents);
  const int connections = std::min(agents, Scaled(env, spec.connections));
  CaseResult result = NewCase(PopulationName(agents, connections),
                              {{"agents", agents},
                               {"connections", connections},
                               {"query", kQueryText},
                               {"timeout_s", absl::ToDoubleSeconds(kQueryTimeout)}},
                              "run_query_to_last_result", "s", spec.target);
  absl::StatusOr<std::string> token = EnrollmentTokenFor(env, kQueryPolicy);
  if (!token.ok()) {
    result.error = std::string(token.status().message());
    return result;
  }
  absl::StatusOr<std::unique_ptr<AgentPopulation>> population =
      StartPopulation(env, agents, connections, *token, QueryStateDir(env));
  if (!population.ok()) {
    result.error = std::string(population.status().message());
    return result;
  }
  const std::unique_ptr<v1::AdminService::Stub> stub = NewAdminStub(env);
  v1::RunQueryRequest request;
  request.set_query(kQueryText);
  request.mutable_targets()->set_policy(kQueryPolicy);
  request.mutable_timeout()->set_seconds(absl::ToInt64Seconds(kQueryTimeout));
  std::vector<double> to_summary_s;
  int64_t results_events = 0;
  CpuRounds cpu;
  RunRounds(result, RoundsOr(env, spec.rounds), [&](int) -> absl::StatusOr<double> {
    absl::SleepFor(kSettle);
    absl::StatusOr<CpuMeter> meter = CpuMeter::Start(*env.fleetd);
    if (!meter.ok()) return meter.status();
    absl::StatusOr<QueryOutcome> outcome =
        RunTimedQuery(*stub, env.admin_token, request, kStreamSlack);
    if (!outcome.ok()) return outcome.status();
    if (absl::Status s = cpu.AddSince(*meter); !s.ok()) return s;
    if (absl::Status all = CheckAllAnswered(*outcome, agents); !all.ok()) return all;
    to_summary_s.push_back(absl::ToDoubleSeconds(outcome->to_summary));
    results_events += outcome->results_events;
    return absl::ToDoubleSeconds(outcome->to_last_result);
  });
  const agent::SimulatorReport report = (*population)->simulator().Report();
  result.figures = {{"to_summary_s_median", Median(to_summary_s)},
                    {"results_events_per_round",
                     result.samples.empty() ? 0 : results_events / std::ssize(result.samples)},
                    {"agent_queries_answered", report.activity.queries_answered},
                    {"agent_queries_dropped", report.activity.queries_dropped},
                    {"errors", report.errors},
                    {"reconnects", report.reconnects}};
  cpu.AddFiguresTo(result.figures);
  return result;
}

}  // namespace

std::string QueryStateDir(const BenchEnv& env) { return env.state_dir + "/query"; }

ScenarioResult RunQueryScenario(BenchEnv& env) {
  ScenarioResult scenario =
      NewScenario(env, "query", "One live query to every agent: RunQuery to the last result");
  const std::vector<QueryCase> cases = {
      {.agents = 10'000,
       .connections = 10'000,
       .rounds = 10,
       .target = Target{.stat = "p99", .op = "<", .value = 1.0}},
      {.agents = 100'000,
       .connections = 1'000,
       .rounds = 5,
       .target = Target{.stat = "p99", .op = "<", .value = 5.0}},
  };
  for (const QueryCase& spec : cases) scenario.cases.push_back(RunCase(env, spec));
  scenario.notes.push_back(
      "Each round runs one RunQuery to the agents of a policy of the scenario's own (every one "
      "of them connected, answering at once with synthetic rows) and reads the stream at the "
      "caller; the time runs from just before the call to the last agent's last result read off "
      "it (to_summary_s is the time to the summary that ends the stream). A round fails unless "
      "every target answered without an error. Agents run in the benchmark's process on the same "
      "cores as fleetd.");
  scenario.notes.push_back(CpuFiguresNote("to the last result"));
  scenario.duration = absl::Now() - scenario.started_at;
  return scenario;
}

}  // namespace fleet::bench
