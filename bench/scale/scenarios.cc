#include "bench/scale/scenarios.h"

namespace fleet::bench {

const std::vector<Scenario>& AllScenarios() {
  static const std::vector<Scenario>* const kScenarios = new std::vector<Scenario>{
      {"enroll", RunEnroll},
      {"admin-write", RunAdminWrite},
      {"fanout", RunFanout},
      {"memory", RunMemory},
      {"reconnect", RunReconnect},
      {"rollout-watch", RunRolloutWatch},
      {"vs-etcd", RunVsEtcd},
      {"fanout-metrics", RunFanoutMetrics},
      {"action", RunAction},
      {"query", RunQueryScenario},
      {"query-concurrency", RunQueryConcurrency},
      {"ha", RunHa},
  };
  return *kScenarios;
}

}  // namespace fleet::bench
