#include "bench/scale/bench_env.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace fleet::bench {

absl::Status ConnectEnv(BenchEnv& env) {
  std::ifstream token_file(env.fleetd->bootstrap_token_file());
  std::string token;
  if (!std::getline(token_file, token) || token.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read fleetd's bootstrap token ", env.fleetd->bootstrap_token_file()));
  }
  env.admin_token = std::string(absl::StripAsciiWhitespace(token));
  env.admin =
      cli::AdminClient::Create(env.fleetd->admin_address(), env.admin_token, absl::Seconds(30));
  if (absl::Status applied = ApplyNextPolicy(env); !applied.ok()) {
    return absl::Status(applied.code(),
                        absl::StrCat("applying the bench policy: ", applied.message()));
  }
  v1::CreateEnrollmentTokenRequest request;
  request.set_policy(env.policy);
  request.set_description("fleet-bench agents");
  absl::StatusOr<v1::CreateEnrollmentTokenResponse> enroll_token =
      env.admin->CreateEnrollmentToken(request);
  if (!enroll_token.ok()) {
    return absl::Status(
        enroll_token.status().code(),
        absl::StrCat("creating an enrollment token: ", enroll_token.status().message()));
  }
  env.enroll_token = enroll_token->secret();
  return absl::OkStatus();
}

int Scaled(const BenchEnv& env, int count) {
  return std::max(1, static_cast<int>(std::lround(count * env.scale)));
}

int RoundsOr(const BenchEnv& env, int default_rounds) {
  return env.rounds > 0 ? env.rounds : default_rounds;
}

std::string PayloadFor(int64_t counter, int payload_bytes) {
  // Printable and incompressible enough: a counter-seeded linear congruential sequence.
  std::string payload(static_cast<size_t>(payload_bytes), 'a');
  uint64_t state = static_cast<uint64_t>(counter) * 6364136223846793005ULL + 1442695040888963407ULL;
  for (char& c : payload) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    c = static_cast<char>('a' + (state >> 59) % 26);
  }
  return payload;
}

std::string NextPolicySpec(BenchEnv& env) {
  const int64_t counter = ++env.spec_counter;
  nlohmann::ordered_json spec = {
      {"agent", {{"logging", {{"level", "info"}}}, {"checkin_interval", "30s"}}},
      {"inputs",
       {{{"type", "logfile"}, {"paths", {"/var/log/syslog", "/var/log/auth.log"}}},
        {{"type", "system/metrics"}, {"period", "10s"}}}},
      {"outputs", {{"default", {{"type", "elasticsearch"}, {"hosts", {"https://es:9200"}}}}}},
      {"bench", {{"counter", counter}, {"payload", PayloadFor(counter, env.payload_bytes)}}}};
  return spec.dump();
}

absl::StatusOr<std::unique_ptr<AgentPopulation>> StartPopulation(BenchEnv& env, int agents,
                                                                 int connections) {
  return StartPopulation(env, agents, connections, env.enroll_token, env.state_dir);
}

absl::StatusOr<std::unique_ptr<AgentPopulation>> StartPopulation(BenchEnv& env, int agents,
                                                                 int connections,
                                                                 const std::string& enroll_token,
                                                                 const std::string& state_dir) {
  Progress(absl::StrCat("starting ", agents, " agents over ", connections, " connections"));
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<AgentPopulation>> population =
      AgentPopulation::Start({.server = env.fleetd->agent_address(),
                              .enroll_token = enroll_token,
                              .state_dir = state_dir,
                              .agents = agents,
                              .connections = connections});
  if (population.ok()) {
    Progress(absl::StrCat(
        "  all ", agents, " connected and applied in ",
        absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)))));
  }
  return population;
}

absl::StatusOr<std::string> EnrollmentTokenFor(BenchEnv& env, const std::string& policy) {
  if (absl::StatusOr<int64_t> applied = ApplyNextRevision(env, policy); !applied.ok()) {
    return absl::Status(applied.status().code(),
                        absl::StrCat("applying policy ", policy, ": ", applied.status().message()));
  }
  v1::CreateEnrollmentTokenRequest request;
  request.set_policy(policy);
  request.set_description(absl::StrCat("fleet-bench agents of ", policy));
  absl::StatusOr<v1::CreateEnrollmentTokenResponse> token =
      env.admin->CreateEnrollmentToken(request);
  if (!token.ok()) {
    return absl::Status(token.status().code(),
                        absl::StrCat("creating an enrollment token of policy ", policy, ": ",
                                     token.status().message()));
  }
  return token->secret();
}

std::unique_ptr<v1::AdminService::Stub> NewAdminStub(const BenchEnv& env) {
  return v1::AdminService::NewStub(
      grpc::CreateChannel(env.fleetd->admin_address(), grpc::InsecureChannelCredentials()));
}

std::unique_ptr<grpc::ClientContext> AdminContext(const std::string& token, absl::Time deadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", "Bearer " + token);
  context->set_deadline(absl::ToChronoTime(deadline));
  return context;
}

absl::Status CallError(const grpc::Status& status, const std::string& what) {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  return absl::Status(
      code, absl::StrCat(what, ": ", absl::StatusCodeToString(code), ": ", status.error_message()));
}

std::string PopulationName(int agents, int connections) {
  if (connections >= agents) return absl::StrCat(agents, " agents, one connection each");
  return absl::StrCat(agents, " agents over ", connections, " connections");
}

absl::Status ApplyNextPolicy(BenchEnv& env) { return ApplyNextRevision(env, env.policy).status(); }

absl::StatusOr<int64_t> ApplyNextRevision(BenchEnv& env, const std::string& policy) {
  v1::ApplyPolicyRequest request;
  request.set_name(policy);
  request.set_spec_json(NextPolicySpec(env));
  absl::StatusOr<v1::ApplyPolicyResponse> response = env.admin->ApplyPolicy(request);
  if (!response.ok()) return response.status();
  return response->policy().revision();
}

absl::StatusOr<absl::Duration> TimeRollout(BenchEnv& env, AgentPopulation& population, Until until,
                                           absl::Duration timeout) {
  agent::Simulator& sim = population.simulator();
  const int64_t target =
      (until == Until::kAcked ? sim.applied() : sim.received()) + population.agents();
  v1::ApplyPolicyRequest request;
  request.set_name(env.policy);
  request.set_spec_json(NextPolicySpec(env));
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::ApplyPolicyResponse> response = env.admin->ApplyPolicy(request);
  if (!response.ok()) return response.status();
  absl::StatusOr<Arrival> arrival = until == Until::kAcked
                                        ? population.WaitAcked(target, timeout)
                                        : population.WaitReceived(target, timeout);
  if (!arrival.ok()) return arrival.status();
  return arrival->last - start;
}

void RunRounds(CaseResult& result, int rounds,
               const std::function<absl::StatusOr<double>(int round)>& round) {
  for (int i = 0; i < rounds; ++i) {
    absl::StatusOr<double> value = round(i);
    if (!value.ok()) {
      result.error = std::string(value.status().message());
      Progress(absl::StrCat("  ", result.name, ": round ", i + 1, " failed: ", *result.error));
      return;
    }
    result.samples.push_back(*value);
    Progress(absl::StrCat("  ", result.name, ": round ", i + 1, "/", rounds, ": ", *value, " ",
                          result.unit));
  }
}

ScenarioResult NewScenario(const BenchEnv& env, std::string scenario, std::string title) {
  Progress(absl::StrCat("scenario ", scenario, ": ", title));
  ScenarioResult result;
  result.scenario = std::move(scenario);
  result.title = std::move(title);
  result.started_at = absl::Now();
  result.conditions = env.conditions;
  result.conditions["scale"] = env.scale;
  result.conditions["payload_bytes"] = env.payload_bytes;
  return result;
}

}  // namespace fleet::bench
