// The scale scenarios of `scripts/bench`. Each runs its cases against env's fleetd (and, for
// vs-etcd, a real etcd it starts), records a failed case's error and goes on, and returns the
// result that becomes bench/results/SCENARIO.json. Every wait is bounded.
#ifndef FLEETD_BENCH_SCALE_SCENARIOS_H_
#define FLEETD_BENCH_SCALE_SCENARIOS_H_

#include <functional>
#include <string>
#include <vector>

#include "bench/scale/bench_env.h"
#include "bench/scale/results.h"

namespace fleet::bench {

// Policy commit to acked by every agent: 1k, 10k and 100k agents multiplexed, 10k agents with one
// connection each.
ScenarioResult RunFanout(BenchEnv& env);
// The same fan-out on a fleetd whose /metrics is scraped every second and on one with metrics off
// (env.baseline_fleetd, or the same binary without its HTTP endpoint), both at once, rounds
// alternating, with the on/off ratio per pair.
ScenarioResult RunFanoutMetrics(BenchEnv& env);
// fleetd's RSS per connected agent, multiplexed and one connection each (fleetd is restarted
// first so that the baseline is a fresh process on the same store).
ScenarioResult RunMemory(BenchEnv& env);
// 10k agents, one connection each, resyncing after fleetd restarts: time until all have the newest
// revision, and how many FULL documents that took.
ScenarioResult RunReconnect(BenchEnv& env);
// Durable enrollments per second with 64 concurrent enrollers.
ScenarioResult RunEnroll(BenchEnv& env);
// Durable policy apply latency one at a time, and applies per second with concurrent writers.
ScenarioResult RunAdminWrite(BenchEnv& env);
// Operators watching a rollout: W WatchRolloutStatus streams opened as each revision is applied,
// the time until every one saw it complete, and fleetd's CPU then and over an idle hold after.
ScenarioResult RunRolloutWatch(BenchEnv& env);
// The same number of watch streams on a real etcd and agent streams on fleetd, one change of the
// same payload, time until every stream has it, and the ratio.
ScenarioResult RunVsEtcd(BenchEnv& env);

// One live query to every agent (10k agents one connection each, 100k multiplexed): the RunQuery
// call to the last result at the caller.
ScenarioResult RunQueryScenario(BenchEnv& env);
// One action to every agent (10k one connection each, 100k multiplexed): CreateAction until every
// target succeeded, and the store writes it caused.
ScenarioResult RunAction(BenchEnv& env);
// Waves of 200 concurrent single-agent queries with 10k agents connected: every query answered,
// and the admin API's latency meanwhile.
ScenarioResult RunQueryConcurrency(BenchEnv& env);

// 3 fleetd replicas on a 3-member etcd cluster, 30k agents spread over them: commit to all acked
// against the same agents on the run's own fleetd (RocksDB), the time from SIGKILL of a replica
// until every agent acked a commit made right after, and etcd's writes and keys at steady state.
ScenarioResult RunHa(BenchEnv& env);

// The policy the query scenarios' agents are enrolled into (so that a policy target names exactly
// them), and where their identities live: query and query-concurrency share them.
inline constexpr char kQueryPolicy[] = "bench-query";
std::string QueryStateDir(const BenchEnv& env);

struct Scenario {
  std::string name;
  std::function<ScenarioResult(BenchEnv&)> run;
};

// Every scenario, in the order `scripts/bench` runs them.
const std::vector<Scenario>& AllScenarios();

}  // namespace fleet::bench

#endif  // FLEETD_BENCH_SCALE_SCENARIOS_H_
