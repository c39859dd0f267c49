// What every scenario runs against: one fleetd (restarted by scenarios that need it), an admin
// client, the policy agents enroll into, where agent identities live, and the run's settings.
#ifndef FLEETD_BENCH_SCALE_BENCH_ENV_H_
#define FLEETD_BENCH_SCALE_BENCH_ENV_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/scale/agent_population.h"
#include "bench/scale/results.h"
#include "cli/admin_client.h"
#include "fleet/v1/admin.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fleetd_process.h"

namespace fleet::bench {

struct BenchEnv {
  testing::FleetdProcess* fleetd = nullptr;  // not owned
  std::unique_ptr<cli::AdminClient> admin;
  // The admin token `admin` sends, for scenarios that call the admin API with a stub of their own.
  std::string admin_token;
  // The policy every agent is enrolled into, and its enrollment token.
  std::string policy;
  std::string enroll_token;
  // Agent identities, shared by every population of the run.
  std::string state_dir;
  std::string etcd_binary;
  // The fleetd binary under test, a directory for the data and logs of fleetds a scenario starts
  // of its own, and the fleetd fanout-metrics compares with (empty: the same binary, --http-addr
  // '').
  std::string fleetd_binary;
  std::string work_dir;
  std::string baseline_fleetd;
  // Multiplies agent and stream counts (--scale; 1 is the full run).
  double scale = 1;
  // Rounds per case; 0 keeps each scenario's own.
  int rounds = 0;
  // The size of the changing value in each policy revision (and of etcd's value in vs-etcd).
  int payload_bytes = 1024;
  // Conditions every scenario reports (cores, limits, versions).
  nlohmann::ordered_json conditions;
  // Bumped by every NextPolicySpec, so that each revision differs.
  int64_t spec_counter = 0;
};

// Fills env's admin_token (fleetd's bootstrap token), admin client, first revision of env.policy
// and enroll_token, against env.fleetd. An error says which step failed.
absl::Status ConnectEnv(BenchEnv& env);

// `count` scaled by env.scale, at least 1.
int Scaled(const BenchEnv& env, int count);
// env.rounds when set, else `default_rounds`.
int RoundsOr(const BenchEnv& env, int default_rounds);

// A policy document with a fixed part and a `payload_bytes`-long value that changes each call,
// so that every revision is new and its delta carries about `payload_bytes`.
std::string NextPolicySpec(BenchEnv& env);
// The value that NextPolicySpec would put in the document, for the same counter: the same bytes
// go to etcd in vs-etcd.
std::string PayloadFor(int64_t counter, int payload_bytes);

// Starts `agents` agents over `connections` connections on env's fleetd (see AgentPopulation),
// enrolled with env.enroll_token, their identities in env.state_dir.
absl::StatusOr<std::unique_ptr<AgentPopulation>> StartPopulation(BenchEnv& env, int agents,
                                                                 int connections);
// The same with another enrollment token (of another policy) and identity directory.
absl::StatusOr<std::unique_ptr<AgentPopulation>> StartPopulation(BenchEnv& env, int agents,
                                                                 int connections,
                                                                 const std::string& enroll_token,
                                                                 const std::string& state_dir);

// An enrollment token of `policy`, after committing a new revision of it (NextPolicySpec; this
// creates the policy when there is none): for a population of a scenario's own, whose agents are
// then the only ones assigned to `policy`, so that a policy target or its rollout status counts
// exactly them.
absl::StatusOr<std::string> EnrollmentTokenFor(BenchEnv& env, const std::string& policy);

// A stub of the admin API on a channel of its own to env's fleetd, for scenarios that call what
// cli::AdminClient does not (streams, many calls at once).
std::unique_ptr<v1::AdminService::Stub> NewAdminStub(const BenchEnv& env);
// A context for one call of such a stub: the admin token `token` (BenchEnv::admin_token), and
// `deadline`.
std::unique_ptr<grpc::ClientContext> AdminContext(const std::string& token, absl::Time deadline);

// A failed call's status as an absl::Status of the same code, its message "WHAT: CODE: message"
// (UNIMPLEMENTED says so even when fleetd sends no message).
absl::Status CallError(const grpc::Status& status, const std::string& what);

// "10000 agents, one connection each" or "100000 agents over 1000 connections".
std::string PopulationName(int agents, int connections);

enum class Until { kAcked, kReceived };

// Commits a new revision of env.policy and times it from just before the ApplyPolicy call until
// the last agent of `population` acked (or received) it.
absl::StatusOr<absl::Duration> TimeRollout(BenchEnv& env, AgentPopulation& population, Until until,
                                           absl::Duration timeout);

// Commits a new revision of env.policy; returns when fleetd answered.
absl::Status ApplyNextPolicy(BenchEnv& env);
// Commits a new revision of `policy` (creating it if need be) with NextPolicySpec; returns the
// revision fleetd committed.
absl::StatusOr<int64_t> ApplyNextRevision(BenchEnv& env, const std::string& policy);

// Fills `result.samples` with `rounds` values of `round(i)`, printing each; the first error ends
// the case and is recorded in result.error.
void RunRounds(CaseResult& result, int rounds,
               const std::function<absl::StatusOr<double>(int round)>& round);

// A scenario's result with its name, title, start time and env's conditions filled in.
ScenarioResult NewScenario(const BenchEnv& env, std::string scenario, std::string title);

}  // namespace fleet::bench

#endif  // FLEETD_BENCH_SCALE_BENCH_ENV_H_
