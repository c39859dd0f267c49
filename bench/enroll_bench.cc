// Durable enrollments per second: 64 agents enrolling at once with one enrollment token, through
// EnrollmentService on a RocksDB store in a fresh directory under $TMPDIR (or /tmp). Every
// enrollment is an fsync'd commit, so the disk matters: run from the disk you want measured.
// Run with: build/bin/enroll_bench (the budget in docs/architecture.md: over 2,000/s).
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "fleet/v1/agent.pb.h"
#include "server/admin/enrollment_token_service.h"
#include "server/admin/policy_service.h"
#include "server/agent/enrollment_service.h"
#include "storage/rocksdb/rocksdb_store.h"

namespace fleet::server {
namespace {

std::string g_dir;
std::unique_ptr<storage::Store> g_store;
std::unique_ptr<EnrollmentService> g_enrollment;
std::string g_token;

// A fresh store with one policy and one unlimited token; Google Benchmark runs this once per
// run, before the threads start.
void OpenFresh(const benchmark::State&) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr ? base : "/tmp") + "/enroll-bench-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  g_dir = pattern;
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenRocksDbStore(g_dir + "/store");
  if (!store.ok()) std::abort();
  g_store = *std::move(store);

  v1::ApplyPolicyRequest policy;
  policy.set_name("linux");
  policy.set_spec_json("{}");
  AgentDirectory unused(*g_store);  // only deleting a policy counts agents
  if (!PolicyService(*g_store, Clock::Real(), {}, unused).Apply(policy, "bench").ok()) {
    std::abort();
  }
  v1::CreateEnrollmentTokenRequest token;
  token.set_policy("linux");
  absl::StatusOr<v1::CreateEnrollmentTokenResponse> created =
      EnrollmentTokenService(*g_store, Clock::Real()).Create(token, "bench");
  if (!created.ok()) std::abort();
  g_token = created->secret();
  g_enrollment = std::make_unique<EnrollmentService>(*g_store, Clock::Real());
}

void Close(const benchmark::State&) {
  g_enrollment.reset();
  g_store.reset();
  std::filesystem::remove_all(g_dir);
}

// Every thread enrolls agents one after another with the same token: enrollments/s is
// items_per_second.
void BM_EnrollOneToken(benchmark::State& state) {
  v1::EnrollRequest request;
  request.set_enrollment_token(g_token);
  request.mutable_facts()->set_hostname("bench-host");
  request.mutable_facts()->set_os("linux");
  request.mutable_facts()->set_arch("amd64");
  request.mutable_facts()->set_agent_version("1.0.0");
  (*request.mutable_facts()->mutable_labels())["env"] = "bench";
  for (auto _ : state) {
    absl::StatusOr<v1::EnrollResponse> enrolled = g_enrollment->Enroll(request);
    if (!enrolled.ok()) {
      state.SkipWithError(std::string(enrolled.status().message()).c_str());
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EnrollOneToken)
    ->Setup(OpenFresh)
    ->Teardown(Close)
    ->Threads(64)
    ->UseRealTime()
    ->MinTime(2.0);

}  // namespace
}  // namespace fleet::server
