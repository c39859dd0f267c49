// The action scenario: one action to every agent of a population, from the CreateAction call
// until WatchAction says every target succeeded, and the store writes the action caused (its
// results must be written in batches, not one transaction per agent).
#include <algorithm>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/scale/cpu_meter.h"
#include "bench/scale/metrics_snapshot.h"
#include "bench/scale/scenarios.h"

namespace fleet::bench {
namespace {

// A policy of its own, with agents of its own: a policy target then resolves to exactly this
// scenario's agents, all of them connected.
constexpr char kPolicy[] = "bench-action";
// agent-sim runs an action of this type without restarting or reconnecting (an upgrade would).
constexpr char kActionType[] = "custom";
constexpr char kActionArguments[] = R"({"name":"fleet-bench"})";
constexpr absl::Duration kActionTimeout = absl::Seconds(120);
// Results are written by a flusher every few hundred milliseconds: the store writes of a round
// are read this long after its last target succeeded.
constexpr absl::Duration kFlushSettle = absl::Seconds(2);
constexpr absl::Duration kSettle = absl::Milliseconds(300);
constexpr absl::Duration kProgressEvery = absl::Seconds(5);

constexpr char kTxnCount[] = "fleetd_store_txn_duration_seconds_count";
constexpr char kStateWrites[] = "fleetd_store_state_writes_total";
constexpr char kResultWrites[] = "fleetd_store_state_writes_total{prefix=\"action_results\"}";
constexpr char kResultKeys[] = "fleetd_store_state_keys_total{prefix=\"action_results\"}";

struct ActionCase {
  int agents;
  int connections;
  int rounds;
  Target target;
};

std::string Describe(const v1::ActionCounts& counts) {
  return absl::StrCat(counts.targets(), " targets: ", counts.pending(), " pending, ",
                      counts.delivered(), " delivered, ", counts.running(), " running, ",
                      counts.succeeded(), " succeeded, ", counts.failed(), " failed, ",
                      counts.rejected(), " rejected, ", counts.expired(), " expired, ",
                      counts.cancelled(), " cancelled");
}

struct ActionRound {
  absl::Duration to_all_succeeded;
  // From CreateAction's return to WatchAction's first message, for the reader of the figure.
  absl::Duration create_call;
};

// Creates the action for every agent of kPolicy and watches it until all `agents` succeeded.
absl::StatusOr<ActionRound> TimeAction(const BenchEnv& env, v1::AdminService::Stub& stub,
                                       int64_t agents) {
  v1::CreateActionRequest request;
  request.set_type(kActionType);
  request.set_arguments_json(kActionArguments);
  request.mutable_targets()->set_policy(kPolicy);
  const absl::Time start = absl::Now();
  const absl::Time deadline = start + kActionTimeout;
  v1::Action created;
  {
    std::unique_ptr<grpc::ClientContext> context = AdminContext(env.admin_token, deadline);
    const grpc::Status status = stub.CreateAction(context.get(), request, &created);
    if (!status.ok()) {
      return CallError(status, "CreateAction");
    }
  }
  const absl::Time created_at = absl::Now();
  if (created.counts().targets() != agents) {
    return absl::FailedPreconditionError(absl::StrCat("action ", created.id(), " has ",
                                                      created.counts().targets(),
                                                      " targets; expected ", agents));
  }
  v1::GetActionRequest watch_request;
  watch_request.set_id(created.id());
  std::unique_ptr<grpc::ClientContext> context = AdminContext(env.admin_token, deadline);
  std::unique_ptr<grpc::ClientReader<v1::Action>> reader =
      stub.WatchAction(context.get(), watch_request);
  v1::Action action;
  std::optional<absl::Time> succeeded_at;
  absl::Time next_progress = absl::Now() + kProgressEvery;
  while (reader->Read(&action)) {
    const absl::Time now = absl::Now();
    if (action.counts().succeeded() == agents) {
      succeeded_at = now;
      break;
    }
    if (action.done()) break;
    if (now >= next_progress) {
      Progress(absl::StrCat("    action ", created.id(), ": ", Describe(action.counts())));
      next_progress = now + kProgressEvery;
    }
  }
  context->TryCancel();
  const grpc::Status status = reader->Finish();
  if (succeeded_at.has_value()) {
    return ActionRound{.to_all_succeeded = *succeeded_at - start,
                       .create_call = created_at - start};
  }
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    return CallError(status, absl::StrCat("WatchAction ", created.id(),
                                          " (last seen: ", Describe(action.counts()), ")"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("action ", created.id(), " did not succeed on every target within ",
                   absl::FormatDuration(kActionTimeout), ": ", Describe(action.counts())));
}

std::vector<CaseResult> RunCase(BenchEnv& env, const ActionCase& spec) {
  const int agents = Scaled(env, spec.agents);
  const int connections = std::min(agents, Scaled(env, spec.connections));
  const std::string name = PopulationName(agents, connections);
  const nlohmann::ordered_json params = {{"agents", agents},
                                         {"connections", connections},
                                         {"type", kActionType},
                                         {"arguments", kActionArguments}};
  std::vector<CaseResult> cases = {
      NewCase(name + ": create to all succeeded", params, "create_to_all_succeeded", "s",
              spec.target),
      NewCase(name + ": store transactions per action", params, "store_txns_per_action", "count"),
      NewCase(name + ": result writes (PutState calls) per action", params,
              "result_writes_per_action", "count")};
  CaseResult& timing = cases[0];
  CaseResult& txns = cases[1];
  CaseResult& writes = cases[2];
  auto fail = [&cases](const absl::Status& status) {
    for (CaseResult& c : cases) c.error = std::string(status.message());
    return cases;
  };
  absl::StatusOr<std::string> token = EnrollmentTokenFor(env, kPolicy);
  if (!token.ok()) return fail(token.status());
  absl::StatusOr<std::unique_ptr<AgentPopulation>> population =
      StartPopulation(env, agents, connections, *token, env.state_dir + "/action");
  if (!population.ok()) return fail(population.status());
  const std::unique_ptr<v1::AdminService::Stub> stub = NewAdminStub(env);
  const std::string& http = env.fleetd->http_address();

  std::vector<double> result_keys;
  std::vector<double> other_state_writes;
  std::vector<double> create_call_ms;
  CpuRounds cpu;
  RunRounds(timing, RoundsOr(env, spec.rounds), [&](int) -> absl::StatusOr<double> {
    absl::SleepFor(kSettle);
    std::optional<MetricsSnapshot> before;
    if (!http.empty()) {
      absl::StatusOr<MetricsSnapshot> taken = MetricsSnapshot::Take(http);
      if (!taken.ok()) return taken.status();
      before = *std::move(taken);
    }
    absl::StatusOr<CpuMeter> meter = CpuMeter::Start(*env.fleetd);
    if (!meter.ok()) return meter.status();
    absl::StatusOr<ActionRound> round = TimeAction(env, *stub, agents);
    if (!round.ok()) return round.status();
    if (absl::Status s = cpu.AddSince(*meter); !s.ok()) return s;
    create_call_ms.push_back(absl::ToDoubleMilliseconds(round->create_call));
    if (before.has_value()) {
      absl::SleepFor(kFlushSettle);
      absl::StatusOr<MetricsSnapshot> after = MetricsSnapshot::Take(http);
      if (!after.ok()) return after.status();
      const auto delta = [&](const char* series) {
        return after->Value(series) - before->Value(series);
      };
      txns.samples.push_back(delta(kTxnCount));
      writes.samples.push_back(delta(kResultWrites));
      result_keys.push_back(delta(kResultKeys));
      other_state_writes.push_back(after->Sum(kStateWrites) - before->Sum(kStateWrites) -
                                   delta(kResultWrites));
    }
    return absl::ToDoubleSeconds(round->to_all_succeeded);
  });
  if (http.empty()) {
    txns.error = writes.error =
        "fleetd runs without its HTTP endpoint (--no-http): no store metrics to read";
  } else if (timing.error.has_value()) {
    txns.error = writes.error = timing.error;
  }
  const agent::SimulatorReport report = (*population)->simulator().Report();
  timing.figures = {{"create_call_ms_median", Median(create_call_ms)},
                    {"agent_actions_succeeded", report.activity.actions_succeeded},
                    {"agent_actions_repeated", report.activity.actions_repeated},
                    {"errors", report.errors},
                    {"reconnects", report.reconnects}};
  cpu.AddFiguresTo(timing.figures);
  writes.figures = {{"result_keys_written_median", Median(result_keys)},
                    {"targets_per_result_write",
                     Median(writes.samples) > 0 ? agents / Median(writes.samples) : 0},
                    {"other_state_writes_median", Median(other_state_writes)}};
  return cases;
}

}  // namespace

ScenarioResult RunAction(BenchEnv& env) {
  ScenarioResult scenario = NewScenario(
      env, "action", "One action to every agent: create to all succeeded, and its store writes");
  const std::vector<ActionCase> specs = {
      {.agents = 10'000,
       .connections = 10'000,
       .rounds = 5,
       .target = Target{.stat = "p99", .op = "<", .value = 1.0}},
      {.agents = 100'000,
       .connections = 1'000,
       .rounds = 5,
       .target = Target{.stat = "p99", .op = "<", .value = 5.0}},
  };
  for (const ActionCase& spec : specs) {
    for (CaseResult& c : RunCase(env, spec)) scenario.cases.push_back(std::move(c));
  }
  scenario.notes.push_back(
      "Each round creates one action (type custom) for the agents of a policy of the "
      "scenario's own, all of them connected and finishing an action at once, and watches it "
      "(WatchAction, which sends counts at most every 100 ms); the time runs from just before the "
      "CreateAction call until a message says every target succeeded.");
  scenario.notes.push_back(
      "Store writes are the differences of fleetd's /metrics from just before the call to 2 s "
      "after every target succeeded (the results' flusher writes every few hundred ms): "
      "transactions (fleetd_store_txn_duration_seconds_count: the action's record and its "
      "target list, and anything else fleetd committed meanwhile) and PutState calls writing "
      "action results (fleetd_store_state_writes_total{prefix=\"action_results\"}); "
      "result_keys_written counts the result keys those calls wrote (a target may be written more "
      "than once as it moves through delivered and running), other_state_writes the PutState "
      "calls of other state (agent status) in the same window.");
  scenario.notes.push_back(CpuFiguresNote("until every target succeeded"));
  scenario.duration = absl::Now() - scenario.started_at;
  return scenario;
}

}  // namespace fleet::bench
