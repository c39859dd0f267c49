// Micro benchmark of what metrics add to each agent of a fan-out: the protocol records one
// update sent (kind, bytes) and one Ack (with its convergence time) per agent and revision, on
// instruments resolved once (server/agent/agent_metrics.h). Threads share the instruments, as
// the completion-queue threads and the hub's kick threads do. Run with: build/bin/metrics_bench.
#include <benchmark/benchmark.h>

#include "absl/time/time.h"
#include "common/metrics/registry.h"
#include "server/agent/agent_metrics.h"

namespace fleet::bench {
namespace {

// One agent's share of a rollout: an update written, then its Ack.
void BM_UpdateAndAck(benchmark::State& state) {
  static metrics::Registry* const registry = new metrics::Registry;
  static const server::AgentMetrics* const instruments = new server::AgentMetrics(*registry);
  for (auto _ : state) {
    instruments->UpdateSent(/*full=*/false, 312);
    instruments->Answered(/*acked=*/true, absl::Milliseconds(250));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_UpdateAndAck)->Threads(1)->Threads(2)->Threads(8)->UseRealTime();

// A scrape of a registry with fleetd's agent instruments.
void BM_Expose(benchmark::State& state) {
  metrics::Registry registry;
  server::AgentMetrics instruments(registry);
  for (auto _ : state) benchmark::DoNotOptimize(registry.Expose());
}
BENCHMARK(BM_Expose);

}  // namespace
}  // namespace fleet::bench
