#include "bench/policy_bench_env.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_format.h"
#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "fleet/v1/canonical_json.h"
#include "storage/memory_store.h"

namespace fleet::bench {
namespace {

constexpr size_t kCertificateBytes = 1024;

// A PEM-looking certificate of `bytes` characters whose body depends on `serial` only.
std::string Certificate(size_t bytes, int64_t serial) {
  static constexpr char kBase64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string pem = "-----BEGIN CERTIFICATE-----\n";
  uint64_t state = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(serial + 1);
  while (pem.size() < bytes) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    pem.push_back(pem.size() % 65 == 64 ? '\n' : kBase64[(state >> 33) % 64]);
  }
  return pem;
}

nlohmann::json Input(int index, int64_t serial) {
  static constexpr const char* kTypes[] = {"logfile", "journald", "metrics"};
  const std::string service = absl::StrFormat("service-%03d", index);
  return {
      {"id", absl::StrFormat("input-%04d", index)},
      {"type", kTypes[index % 3]},
      {"enabled", index % 7 != 3},
      {"paths",
       {absl::StrFormat("/var/log/%s/*.log", service),
        absl::StrFormat("/var/log/%s/*.err", service)}},
      {"fields", {{"service", service}, {"team", absl::StrFormat("team-%d", index % 12)}}},
      {"processors",
       {{{"drop_fields", {{"fields", {"host.mac", "agent.ephemeral_id"}}}}},
        {{"add_tags", {{"tags", {"shipped", "tier-1"}}}}}}},
      // The first input is the one a change tweaks.
      {"scan_frequency_s", index == 0 ? 10 + serial % 5 : 10},
  };
}

}  // namespace

nlohmann::json SamplePolicy(size_t bytes, int64_t serial) {
  nlohmann::json spec = {
      {"agent",
       {{"log",
         {{"level", serial % 2 == 0 ? "info" : "debug"},
          {"rotate", {{"max_files", 7}, {"max_mb", 100}}}}},
        {"heartbeat_s", 30},
        {"tags", {"prod", "eu-west-1", "tier-1"}}}},
      {"tls",
       {{"ca_pem", Certificate(std::min(kCertificateBytes, bytes / 4), serial)},
        {"verify", true},
        {"min_version", "1.2"}}},
      {"outputs",
       {{"default",
         {{"type", "elasticsearch"},
          {"hosts",
           {"https://es-0.example.internal:9200", "https://es-1.example.internal:9200",
            "https://es-2.example.internal:9200"}},
          {"bulk_max_size", 1600},
          {"retry", {{"backoff_ms", {100, 200, 400, 800}}, {"max_attempts", 5}}}}}}},
      {"inputs", nlohmann::json::array()},
  };
  size_t size = v1::CanonicalJson(spec).size();
  for (int index = 0; index == 0 || size < bytes; ++index) {
    nlohmann::json input = Input(index, serial);
    size += v1::CanonicalJson(input).size() + 1;  // and a comma
    spec["inputs"].push_back(std::move(input));
  }
  return spec;
}

PolicyBenchEnv::PolicyBenchEnv(const nlohmann::json& first_spec)
    : store_(storage::NewMemoryStore()),
      directory_(*store_),
      policies_(*store_, fleet::Clock::Real(), {.history_limit = 10}, directory_) {
  Apply(first_spec);
  absl::StatusOr<std::unique_ptr<server::PolicyEngine>> engine =
      server::PolicyEngine::Start(*store_, [this](const std::string& policy, int64_t latest) {
        if (policy != kPolicy) return;
        absl::MutexLock lock(&mu_);
        announced_ = std::max(announced_, latest);
      });
  if (!engine.ok()) std::abort();
  engine_ = *std::move(engine);
}

PolicyBenchEnv::~PolicyBenchEnv() = default;

int64_t PolicyBenchEnv::Apply(const nlohmann::json& spec) {
  v1::ApplyPolicyRequest request;
  request.set_name(kPolicy);
  request.set_spec_json(v1::CanonicalJson(spec));
  absl::StatusOr<v1::ApplyPolicyResponse> applied = policies_.Apply(request, "bench");
  if (!applied.ok() || !applied->changed()) std::abort();
  return applied->policy().revision();
}

int64_t PolicyBenchEnv::Commit(const nlohmann::json& spec) {
  const int64_t revision = Apply(spec);
  absl::MutexLock lock(&mu_);
  auto announced = [this, revision] {
    mu_.AssertHeld();
    return announced_ >= revision;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&announced), absl::Seconds(30))) std::abort();
  return revision;
}

server::AgentPosition PolicyBenchEnv::After(const server::PreparedUpdate& update) {
  return {.policy = update.update.policy(),
          .revision = update.update.target_revision(),
          .sha256 = update.update.sha256()};
}

}  // namespace fleet::bench
