// The query-concurrency scenario: many live queries at once, each to one agent, while 10,000
// agents are connected (the load that made FleetDM's server inaccessible at about 200 concurrent
// campaigns): every query answered, and how the admin API answers meanwhile.
#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "bench/scale/query_timer.h"
#include "bench/scale/scenarios.h"

namespace fleet::bench {
namespace {

constexpr char kQueryText[] = "SELECT pid, name FROM processes";
constexpr absl::Duration kQueryTimeout = absl::Seconds(30);
constexpr absl::Duration kStreamSlack = absl::Seconds(10);
constexpr absl::Duration kAdminCallTimeout = absl::Seconds(30);
// Between two admin calls of the prober, so that it samples rather than loads.
constexpr absl::Duration kProbeGap = absl::Milliseconds(10);
// The admin API probed with no query running, for the figure under load to be read against.
constexpr absl::Duration kIdleProbe = absl::Seconds(2);
constexpr absl::Duration kListTimeout = absl::Seconds(60);
constexpr int kListPage = 500;

struct ConcurrencyCase {
  int agents;
  int connections;
  int queries;
  int waves;
};

// The ids of `count` online agents of `policy`, waiting (bounded) for fleetd to see them online.
absl::StatusOr<std::vector<std::string>> OnlineAgents(const BenchEnv& env,
                                                      v1::AdminService::Stub& stub,
                                                      const std::string& policy, int count) {
  const absl::Time deadline = absl::Now() + kListTimeout;
  while (true) {
    std::vector<std::string> ids;
    v1::ListAgentsRequest request;
    request.set_policy(policy);
    request.set_status(v1::AGENT_STATUS_ONLINE);
    request.set_page_size(kListPage);
    while (true) {
      v1::ListAgentsResponse response;
      std::unique_ptr<grpc::ClientContext> context =
          AdminContext(env.admin_token, absl::Now() + kAdminCallTimeout);
      const grpc::Status status = stub.ListAgents(context.get(), request, &response);
      if (!status.ok()) {
        return CallError(status, "ListAgents");
      }
      for (const v1::Agent& agent : response.agents()) ids.push_back(agent.id());
      if (response.next_page_token().empty()) break;
      request.set_page_token(response.next_page_token());
    }
    if (std::ssize(ids) >= count) return ids;
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "fleetd lists ", ids.size(), " online agents of policy ", policy, "; expected ", count));
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

// Calls GetRolloutStatus and ListAgents in turn on a channel of its own, from construction
// until destruction, timing each call into the current phase's samples. Thread-safe.
class AdminProber {
 public:
  AdminProber(const BenchEnv& env, std::string policy)
      : env_(env),
        policy_(std::move(policy)),
        stub_(NewAdminStub(env)),
        thread_([this] { Run(); }) {}
  ~AdminProber() {
    stop_.store(true);
    thread_.join();
  }
  AdminProber(const AdminProber&) = delete;
  AdminProber& operator=(const AdminProber&) = delete;

  // Samples taken from now on go to the load samples (until then: idle).
  void StartLoad() {
    absl::MutexLock lock(&mu_);
    loaded_ = true;
  }
  std::vector<double> idle_ms() const {
    absl::MutexLock lock(&mu_);
    return idle_ms_;
  }
  std::vector<double> load_ms() const {
    absl::MutexLock lock(&mu_);
    return load_ms_;
  }
  // Calls that failed, and the first failure.
  int64_t failures() const {
    absl::MutexLock lock(&mu_);
    return failures_;
  }
  std::string first_failure() const {
    absl::MutexLock lock(&mu_);
    return first_failure_;
  }

 private:
  void Run() {
    for (int64_t call = 0; !stop_.load(); ++call) {
      std::unique_ptr<grpc::ClientContext> context =
          AdminContext(env_.admin_token, absl::Now() + kAdminCallTimeout);
      const absl::Time start = absl::Now();
      grpc::Status status;
      if (call % 2 == 0) {
        v1::GetRolloutStatusRequest request;
        request.set_policy(policy_);
        v1::RolloutStatus response;
        status = stub_->GetRolloutStatus(context.get(), request, &response);
      } else {
        v1::ListAgentsRequest request;
        request.set_policy(policy_);
        request.set_page_size(100);
        v1::ListAgentsResponse response;
        status = stub_->ListAgents(context.get(), request, &response);
      }
      const double ms = absl::ToDoubleMilliseconds(absl::Now() - start);
      {
        absl::MutexLock lock(&mu_);
        if (!status.ok()) {
          if (failures_++ == 0) {
            first_failure_ = std::string(
                CallError(status, call % 2 == 0 ? "GetRolloutStatus" : "ListAgents").message());
          }
        } else {
          (loaded_ ? load_ms_ : idle_ms_).push_back(ms);
        }
      }
      absl::SleepFor(kProbeGap);
    }
  }

  const BenchEnv& env_;
  const std::string policy_;
  const std::unique_ptr<v1::AdminService::Stub> stub_;
  std::atomic<bool> stop_{false};
  mutable absl::Mutex mu_;
  bool loaded_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<double> idle_ms_ ABSL_GUARDED_BY(mu_);
  std::vector<double> load_ms_ ABSL_GUARDED_BY(mu_);
  int64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  std::string first_failure_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;  // last: starts once the rest is built
};

// What one wave of concurrent queries did.
struct Wave {
  absl::Duration to_all_answered;
  std::vector<double> latencies_ms;
};

// `ids.size()` queries at once, one per agent id, each on a thread of its own released together;
// the first query's error when any failed or was not answered.
absl::StatusOr<Wave> RunWave(const BenchEnv& env, v1::AdminService::Stub& stub,
                             const std::vector<std::string>& ids) {
  absl::Notification go;
  absl::Mutex mu;
  std::vector<double> latencies_ms;
  absl::Status first_error;
  std::vector<std::thread> threads;
  threads.reserve(ids.size());
  for (const std::string& id : ids) {
    threads.emplace_back([&, id] {
      v1::RunQueryRequest request;
      request.set_query(kQueryText);
      request.mutable_targets()->add_agent_ids(id);
      request.mutable_timeout()->set_seconds(absl::ToInt64Seconds(kQueryTimeout));
      go.WaitForNotification();
      absl::StatusOr<QueryOutcome> outcome =
          RunTimedQuery(stub, env.admin_token, request, kStreamSlack);
      absl::Status status = outcome.ok() ? CheckAllAnswered(*outcome, 1) : outcome.status();
      absl::MutexLock lock(&mu);
      if (!status.ok()) {
        if (first_error.ok()) {
          first_error = absl::Status(status.code(),
                                     absl::StrCat("query to agent ", id, ": ", status.message()));
        }
        return;
      }
      latencies_ms.push_back(absl::ToDoubleMilliseconds(outcome->to_summary));
    });
  }
  const absl::Time start = absl::Now();
  go.Notify();
  for (std::thread& thread : threads) thread.join();
  const absl::Duration took = absl::Now() - start;
  if (!first_error.ok()) return first_error;
  return Wave{.to_all_answered = took, .latencies_ms = std::move(latencies_ms)};
}

std::vector<CaseResult> RunCase(BenchEnv& env, const ConcurrencyCase& spec) {
  const int agents = Scaled(env, spec.agents);
  const int connections = std::min(agents, Scaled(env, spec.connections));
  const int queries = std::min(agents, spec.queries);
  const std::string name = absl::StrCat(queries, " concurrent single-agent queries, ",
                                        PopulationName(agents, connections));
  const nlohmann::ordered_json params = {{"agents", agents},
                                         {"connections", connections},
                                         {"concurrent_queries", queries},
                                         {"query", kQueryText}};
  std::vector<CaseResult> cases = {
      NewCase(name + ": wave until all answered", params, "wave_to_all_answered", "s"),
      NewCase(name + ": admin API latency during the waves", params, "admin_latency_under_load",
              "ms")};
  CaseResult& waves = cases[0];
  CaseResult& admin = cases[1];
  auto fail = [&cases](const absl::Status& status) {
    for (CaseResult& c : cases) c.error = std::string(status.message());
    return cases;
  };
  absl::StatusOr<std::string> token = EnrollmentTokenFor(env, kQueryPolicy);
  if (!token.ok()) return fail(token.status());
  absl::StatusOr<std::unique_ptr<AgentPopulation>> population =
      StartPopulation(env, agents, connections, *token, QueryStateDir(env));
  if (!population.ok()) return fail(population.status());
  const std::unique_ptr<v1::AdminService::Stub> stub = NewAdminStub(env);
  absl::StatusOr<std::vector<std::string>> online = OnlineAgents(env, *stub, kQueryPolicy, agents);
  if (!online.ok()) return fail(online.status());

  std::vector<double> latencies_ms;
  AdminProber prober(env, kQueryPolicy);
  absl::SleepFor(kIdleProbe);
  prober.StartLoad();
  RunRounds(waves, RoundsOr(env, spec.waves), [&](int wave) -> absl::StatusOr<double> {
    // Each wave asks other agents than the last, cycling through those online.
    std::vector<std::string> ids;
    for (int i = 0; i < queries; ++i) {
      ids.push_back((*online)[(static_cast<size_t>(wave) * queries + i) % online->size()]);
    }
    absl::StatusOr<Wave> done = RunWave(env, *stub, ids);
    if (!done.ok()) return done.status();
    latencies_ms.insert(latencies_ms.end(), done->latencies_ms.begin(), done->latencies_ms.end());
    return absl::ToDoubleSeconds(done->to_all_answered);
  });
  admin.samples = prober.load_ms();
  const std::vector<double> idle = prober.idle_ms();
  if (waves.error.has_value()) admin.error = waves.error;
  if (prober.failures() > 0 && !admin.error.has_value()) {
    admin.error =
        absl::StrCat(prober.failures(), " admin calls failed; the first: ", prober.first_failure());
  }
  const agent::SimulatorReport report = (*population)->simulator().Report();
  waves.figures = {{"queries", latencies_ms.size()},
                   {"query_latency_ms_median", Median(latencies_ms)},
                   {"query_latency_ms_p99", P99(latencies_ms)},
                   {"errors", report.errors},
                   {"reconnects", report.reconnects}};
  admin.figures = {{"calls", admin.samples.size()},
                   {"idle_calls", idle.size()},
                   {"idle_latency_ms_median", Median(idle)},
                   {"idle_latency_ms_p99", P99(idle)}};
  return cases;
}

}  // namespace

ScenarioResult RunQueryConcurrency(BenchEnv& env) {
  ScenarioResult scenario = NewScenario(
      env, "query-concurrency",
      "Concurrent single-agent queries with 10,000 agents connected: all answered, admin latency");
  const std::vector<ConcurrencyCase> specs = {
      {.agents = 10'000, .connections = 10'000, .queries = 200, .waves = 20},
  };
  for (const ConcurrencyCase& spec : specs) {
    for (CaseResult& c : RunCase(env, spec)) scenario.cases.push_back(std::move(c));
  }
  scenario.notes.push_back(
      "Each wave starts its queries at once, each RunQuery to one connected agent (a different "
      "agent per query), on threads released together over one admin connection, and waits until "
      "every one has its summary; a wave fails unless every query was answered without an error. "
      "Waves follow each other without a pause. The concurrent query count is not scaled "
      "(--scale scales the agents only).");
  scenario.notes.push_back(
      "Admin API latency: meanwhile a prober on an admin connection of its own calls "
      "GetRolloutStatus and ListAgents (100 agents) in turn, 10 ms apart, and times each call; "
      "the samples are the calls made while the waves ran, idle_latency the same calls over 2 s "
      "before the first wave, with the agents connected and no query running.");
  scenario.duration = absl::Now() - scenario.started_at;
  return scenario;
}

}  // namespace fleet::bench
