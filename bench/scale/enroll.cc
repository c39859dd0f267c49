// The enroll scenario: durable enrollments per second.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/scale/scenarios.h"
#include "fleet/v1/agent.grpc.pb.h"

namespace fleet::bench {
namespace {

constexpr int kEnrollers = 64;
constexpr int kChannels = 8;

// Enrolls `count` agents from kEnrollers threads; the rate, or the first error.
absl::StatusOr<double> EnrollRound(
    const BenchEnv& env, const std::vector<std::unique_ptr<v1::AgentService::Stub>>& stubs,
    int round, int count) {
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  absl::Mutex error_mu;
  std::string first_error;
  const absl::Time start = absl::Now();
  std::vector<std::thread> enrollers;
  for (int e = 0; e < kEnrollers; ++e) {
    enrollers.emplace_back([&, e] {
      v1::AgentService::Stub& stub = *stubs[e % stubs.size()];
      for (int i = next++; i < count; i = next++) {
        v1::EnrollRequest request;
        request.set_enrollment_token(env.enroll_token);
        request.mutable_facts()->set_hostname(absl::StrCat("enroll-bench-", round, "-", i));
        request.mutable_facts()->set_os("linux");
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
        v1::EnrollResponse response;
        const grpc::Status status = stub.Enroll(&context, request, &response);
        if (!status.ok()) {
          ++failures;
          absl::MutexLock lock(&error_mu);
          if (first_error.empty()) first_error = status.error_message();
        }
      }
    });
  }
  for (std::thread& enroller : enrollers) enroller.join();
  const absl::Duration took = absl::Now() - start;
  if (failures > 0) {
    return absl::InternalError(
        absl::StrCat(failures.load(), " of ", count, " enrollments failed; first: ", first_error));
  }
  return count / absl::ToDoubleSeconds(took);
}

}  // namespace

ScenarioResult RunEnroll(BenchEnv& env) {
  ScenarioResult scenario = NewScenario(env, "enroll", "Durable enrollments per second");
  const int per_round = Scaled(env, 5'000);
  CaseResult result;
  result.name = absl::StrCat(kEnrollers, " concurrent enrollers, one token");
  result.params = {
      {"enrollers", kEnrollers}, {"channels", kChannels}, {"enrollments_per_round", per_round}};
  result.metric = "enrollments_per_second";
  result.unit = "per_s";
  result.target = Target{.stat = "median", .op = ">", .value = 2000};
  std::vector<std::unique_ptr<v1::AgentService::Stub>> stubs;
  for (int c = 0; c < kChannels; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    stubs.push_back(v1::AgentService::NewStub(grpc::CreateCustomChannel(
        env.fleetd->agent_address(), grpc::InsecureChannelCredentials(), args)));
  }
  RunRounds(result, RoundsOr(env, 5),
            [&](int round) { return EnrollRound(env, stubs, round, per_round); });
  scenario.cases.push_back(std::move(result));
  scenario.notes.push_back(
      "Each enrollment is an Enroll RPC that returns once the agent record and the token's use "
      "count are durably committed (fsync) in fleetd's RocksDB store.");
  scenario.duration = absl::Now() - scenario.started_at;
  return scenario;
}

}  // namespace fleet::bench
