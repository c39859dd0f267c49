// Micro benchmark of a policy change reaching N agents, without gRPC (one serialization per
// change, not per agent). This measures the pure part of each session's write: after a change,
// every agent at the previous revision asks the PolicyEngine for its update and wraps the shared
// bytes in its own grpc::ByteBuffer, as AgentProtocol and AgentSession::Perform do. Not included:
// the hub's walk over its sessions, each protocol's lock, and gRPC's StartWrite. Run with:
// build/bin/fanout_bench (see bench/README.md for the recorded figures).
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/policy_bench_env.h"
#include "benchmark/benchmark.h"
#include "nlohmann/json.hpp"
#include "server/control/policy_engine.h"

namespace fleet::bench {
namespace {

using server::AgentPosition;
using server::PreparedUpdate;
using server::PreparedUpdatePtr;

// One change reaching `agents` agents: the first UpdateFor computes and serializes the DELTA,
// the rest share it. Each iteration commits the next revision of a 4 KB document first (not
// timed), and afterwards moves every agent to it (not timed), as their acks would.
void BM_ChangeToAgents(benchmark::State& state) {
  const int64_t agents = state.range(0);
  const nlohmann::json specs[2] = {SamplePolicy(4 << 10, 1), SamplePolicy(4 << 10, 2)};
  PolicyBenchEnv env(specs[0]);
  absl::StatusOr<PreparedUpdatePtr> first = env.engine().UpdateFor(PolicyBenchEnv::kPolicy, {});
  if (!first.ok() || *first == nullptr) return state.SkipWithError("no first update");
  // What each session keeps: its agent's position, its write buffer and the bytes' owner.
  std::vector<AgentPosition> positions(agents, PolicyBenchEnv::After(**first));
  std::vector<grpc::ByteBuffer> buffers(agents);
  std::vector<PreparedUpdatePtr> owners(agents);
  int64_t serial = 0;
  for (auto _ : state) {
    state.PauseTiming();
    env.Commit(specs[++serial % 2]);
    const int64_t computed_before = env.engine().updates_computed();
    state.ResumeTiming();

    const PreparedUpdate* shared = nullptr;
    for (int64_t i = 0; i < agents; ++i) {
      absl::StatusOr<PreparedUpdatePtr> update =
          env.engine().UpdateFor(PolicyBenchEnv::kPolicy, positions[i]);
      if (!update.ok() || *update == nullptr) return state.SkipWithError("no update");
      if (shared == nullptr) shared = update->get();
      if (update->get() != shared) return state.SkipWithError("an agent got its own update");
      const std::string& bytes = (*update)->serialized_message;
      grpc::Slice slice(bytes.data(), bytes.size(), grpc::Slice::STATIC_SLICE);
      buffers[i] = grpc::ByteBuffer(&slice, 1);
      owners[i] = *std::move(update);
    }

    state.PauseTiming();
    if (shared->update.kind() != v1::PolicyUpdate::DELTA) return state.SkipWithError("no DELTA");
    if (env.engine().updates_computed() != computed_before + 1) {
      return state.SkipWithError("not computed exactly once");
    }
    for (AgentPosition& position : positions) position = PolicyBenchEnv::After(*shared);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * agents);
}
BENCHMARK(BM_ChangeToAgents)
    ->ArgName("agents")
    ->Arg(1'000)
    ->Arg(10'000)
    ->Arg(100'000)
    ->MinTime(0.2)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fleet::bench
