// Micro benchmarks of one policy change's work (one serialization per change, not per agent): what
// the PolicyEngine pays once per (policy, from, to) -- the RFC 6902 diff, the canonical JSON and
// SHA-256 the revision carries, the ServerMessage serialized once -- against what a cache hit
// costs, and what each agent pays to apply the delta. Documents come from SamplePolicy
// (policy_bench_env.h). Run with: build/bin/policy_update_bench (see bench/README.md for the
// recorded figures).
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"
#include "agent/policy_applier.h"
#include "bench/policy_bench_env.h"
#include "benchmark/benchmark.h"
#include "fleet/v1/agent.pb.h"
#include "fleet/v1/canonical_json.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"
#include "server/control/policy_content.h"
#include "server/control/policy_engine.h"

namespace fleet::bench {
namespace {

using server::AgentPosition;
using server::PreparedUpdatePtr;

constexpr int64_t kAgentDocumentBytes = 4 << 10;

// Two consecutive revisions of a document of about `bytes` bytes, and their canonical text.
struct RevisionPair {
  explicit RevisionPair(size_t bytes)
      : from(SamplePolicy(bytes, 1)),
        to(SamplePolicy(bytes, 2)),
        from_canonical(v1::CanonicalJson(from)),
        to_canonical(v1::CanonicalJson(to)) {}

  const nlohmann::json from;
  const nlohmann::json to;
  const std::string from_canonical;
  const std::string to_canonical;
};

void Sizes(benchmark::internal::Benchmark* bench) {
  bench->ArgName("bytes")->Arg(1 << 10)->Arg(4 << 10)->Arg(16 << 10)->Arg(256 << 10);
}

void Label(benchmark::State& state, const std::string& document, const std::string& extra = "") {
  state.SetLabel(absl::StrFormat("doc %.1f KB%s", document.size() / 1024.0, extra));
}

// The engine's diff: nlohmann::json::diff of two parsed revisions, dumped to patch_json.
void BM_JsonDiff(benchmark::State& state) {
  const RevisionPair pair(state.range(0));
  size_t patch_bytes = 0;
  for (auto _ : state) {
    std::string patch = nlohmann::json::diff(pair.from, pair.to).dump();
    patch_bytes = patch.size();
    benchmark::DoNotOptimize(patch);
  }
  state.SetBytesProcessed(state.iterations() * pair.to_canonical.size());
  Label(state, pair.to_canonical, absl::StrFormat(", patch %.1f KB", patch_bytes / 1024.0));
}
BENCHMARK(BM_JsonDiff)->Apply(Sizes)->MinTime(0.2);

// The content hash: CanonicalJson and Sha256Hex of a parsed document, as PolicyService does
// for each new revision and every agent does after applying one.
void BM_CanonicalSha256(benchmark::State& state) {
  const RevisionPair pair(state.range(0));
  for (auto _ : state) {
    std::string sha256 = v1::Sha256Hex(v1::CanonicalJson(pair.to));
    benchmark::DoNotOptimize(sha256);
  }
  state.SetBytesProcessed(state.iterations() * pair.to_canonical.size());
  Label(state, pair.to_canonical);
}
BENCHMARK(BM_CanonicalSha256)->Apply(Sizes)->MinTime(0.2);

// What the engine does once per change and base, on its own thread before the change is
// announced: the diff, the PolicyUpdate, the ServerMessage serialized (PrepareUpdate).
void BM_EngineDeltaUpdate(benchmark::State& state) {
  const RevisionPair pair(state.range(0));
  const server::PolicyContent from{.policy = PolicyBenchEnv::kPolicy,
                                   .revision = 1,
                                   .spec = pair.from,
                                   .canonical = pair.from_canonical,
                                   .sha256 = v1::Sha256Hex(pair.from_canonical)};
  const server::PolicyContent to{.policy = PolicyBenchEnv::kPolicy,
                                 .revision = 2,
                                 .spec = pair.to,
                                 .canonical = pair.to_canonical,
                                 .sha256 = v1::Sha256Hex(pair.to_canonical)};
  size_t message_bytes = 0;
  for (auto _ : state) {
    PreparedUpdatePtr update = server::PrepareUpdate(to, &from);
    message_bytes = update->serialized_message.size();
    benchmark::DoNotOptimize(update);
  }
  state.SetBytesProcessed(state.iterations() * pair.to_canonical.size());
  Label(state, pair.to_canonical, absl::StrFormat(", message %.1f KB", message_bytes / 1024.0));
}
BENCHMARK(BM_EngineDeltaUpdate)->Apply(Sizes)->MinTime(0.1);

// Building the ServerMessage for an update and serializing it, as the engine does once per
// (from, to): the PolicyUpdate is filled, copied into the message and serialized. FULL carries
// the whole document, DELTA the patch.
void SerializeUpdate(benchmark::State& state, v1::PolicyUpdate::Kind kind) {
  const RevisionPair pair(state.range(0));
  const std::string sha256 = v1::Sha256Hex(pair.to_canonical);
  const std::string patch = nlohmann::json::diff(pair.from, pair.to).dump();
  std::string serialized;
  for (auto _ : state) {
    v1::PolicyUpdate update;
    update.set_policy(PolicyBenchEnv::kPolicy);
    update.set_target_revision(2);
    update.set_sha256(sha256);
    *update.mutable_commit_time() =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(1'800'000'000'000'000);
    update.set_kind(kind);
    if (kind == v1::PolicyUpdate::DELTA) {
      update.set_base_revision(1);
      update.set_patch_json(patch);
    } else {
      update.set_document_json(pair.to_canonical);
    }
    v1::ServerMessage message;
    *message.mutable_policy_update() = update;
    serialized.clear();
    if (!message.SerializeToString(&serialized)) return state.SkipWithError("serialize failed");
    benchmark::DoNotOptimize(serialized);
  }
  state.SetBytesProcessed(state.iterations() * serialized.size());
  Label(state, pair.to_canonical, absl::StrFormat(", message %.1f KB", serialized.size() / 1024.0));
}
void BM_SerializeFullUpdate(benchmark::State& state) {
  SerializeUpdate(state, v1::PolicyUpdate::FULL);
}
BENCHMARK(BM_SerializeFullUpdate)->Apply(Sizes)->MinTime(0.1);
void BM_SerializeDeltaUpdate(benchmark::State& state) {
  SerializeUpdate(state, v1::PolicyUpdate::DELTA);
}
BENCHMARK(BM_SerializeDeltaUpdate)->Apply(Sizes)->MinTime(0.1);

// What every agent after the first costs the engine: UpdateFor of an (from, to) already
// computed returns the shared PreparedUpdate. 4 KB document.
void BM_UpdateForCacheHit(benchmark::State& state) {
  const RevisionPair pair(kAgentDocumentBytes);
  PolicyBenchEnv env(pair.from);
  absl::StatusOr<PreparedUpdatePtr> first = env.engine().UpdateFor(PolicyBenchEnv::kPolicy, {});
  if (!first.ok() || *first == nullptr) return state.SkipWithError("no first update");
  const AgentPosition position = PolicyBenchEnv::After(**first);
  env.Commit(pair.to);
  absl::StatusOr<PreparedUpdatePtr> shared =
      env.engine().UpdateFor(PolicyBenchEnv::kPolicy, position);
  if (!shared.ok() || *shared == nullptr) return state.SkipWithError("no DELTA");
  const int64_t computed = env.engine().updates_computed();
  for (auto _ : state) {
    absl::StatusOr<PreparedUpdatePtr> update =
        env.engine().UpdateFor(PolicyBenchEnv::kPolicy, position);
    if (!update.ok() || *update != *shared) return state.SkipWithError("not the shared update");
    benchmark::DoNotOptimize(update);
  }
  if (env.engine().updates_computed() != computed) state.SkipWithError("computed again");
  state.SetItemsProcessed(state.iterations());
  Label(state, pair.to_canonical);
}
BENCHMARK(BM_UpdateForCacheHit)->MinTime(0.2);

// An agent applying a PolicyUpdate: parse, patch (DELTA) or parse (FULL), canonicalize, hash,
// switch. Alternates between two revisions of a 4 KB document that differ in a 1 KB string.
void AgentApply(benchmark::State& state, v1::PolicyUpdate::Kind kind) {
  const RevisionPair pair(kAgentDocumentBytes);
  // Index 0 takes an agent from `from` to `to`, index 1 back.
  v1::PolicyUpdate updates[2];
  for (int i = 0; i < 2; ++i) {
    const nlohmann::json& base = i == 0 ? pair.from : pair.to;
    const nlohmann::json& target = i == 0 ? pair.to : pair.from;
    updates[i].set_policy(PolicyBenchEnv::kPolicy);
    updates[i].set_kind(kind);
    updates[i].set_sha256(v1::Sha256Hex(i == 0 ? pair.to_canonical : pair.from_canonical));
    if (kind == v1::PolicyUpdate::DELTA) {
      updates[i].set_patch_json(nlohmann::json::diff(base, target).dump());
    } else {
      updates[i].set_document_json(i == 0 ? pair.to_canonical : pair.from_canonical);
    }
  }
  absl::StatusOr<agent::PolicyApplier> applier =
      agent::PolicyApplier::Restore(PolicyBenchEnv::kPolicy, 1, pair.from_canonical);
  if (!applier.ok()) return state.SkipWithError("cannot restore");
  int64_t revision = 1;  // odd revisions hold `from`
  for (auto _ : state) {
    v1::PolicyUpdate& update = updates[revision % 2 == 1 ? 0 : 1];
    update.set_base_revision(kind == v1::PolicyUpdate::DELTA ? revision : 0);
    update.set_target_revision(revision + 1);
    agent::ApplyOutcome outcome = applier->Apply(update);
    if (!outcome.applied) return state.SkipWithError(outcome.nack_reason.c_str());
    ++revision;
  }
  state.SetBytesProcessed(state.iterations() * pair.to_canonical.size());
  const size_t sent = kind == v1::PolicyUpdate::DELTA ? updates[0].patch_json().size()
                                                      : updates[0].document_json().size();
  Label(state, pair.to_canonical, absl::StrFormat(", update %.1f KB", sent / 1024.0));
}
void BM_AgentApplyDelta(benchmark::State& state) { AgentApply(state, v1::PolicyUpdate::DELTA); }
BENCHMARK(BM_AgentApplyDelta)->MinTime(0.2);
void BM_AgentApplyFull(benchmark::State& state) { AgentApply(state, v1::PolicyUpdate::FULL); }
BENCHMARK(BM_AgentApplyFull)->MinTime(0.2);

}  // namespace
}  // namespace fleet::bench
