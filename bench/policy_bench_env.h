// What the fan-out micro benchmarks share: policy documents shaped like a real agent config, and
// a PolicyEngine following a MemoryStore that a PolicyService commits to, as in fleetd.
#ifndef FLEETD_BENCH_POLICY_BENCH_ENV_H_
#define FLEETD_BENCH_POLICY_BENCH_ENV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"
#include "server/admin/policy_service.h"
#include "server/control/policy_engine.h"
#include "storage/store.h"

namespace fleet::bench {

// A policy of about `bytes` bytes of canonical JSON (at least one input, so never much under
// 1 KB): agent settings, a TLS section with a PEM certificate, outputs and an array of inputs
// with paths, fields and processors. `serial` picks a version; two serials differ in the
// certificate (1 KB of it, or a quarter of the document when that is smaller), the log level
// and one input's scan frequency, as a certificate rotation with a small tweak would.
nlohmann::json SamplePolicy(size_t bytes, int64_t serial);

// A MemoryStore with one policy, kPolicy, a PolicyService that commits its revisions and a
// PolicyEngine that follows them. Every method aborts on an error: a benchmark cannot go on.
//
// Thread-compatible: one benchmark thread drives it.
class PolicyBenchEnv {
 public:
  static constexpr char kPolicy[] = "bench";

  // Commits `first_spec` as revision 1, then starts the engine.
  explicit PolicyBenchEnv(const nlohmann::json& first_spec);
  ~PolicyBenchEnv();

  PolicyBenchEnv(const PolicyBenchEnv&) = delete;
  PolicyBenchEnv& operator=(const PolicyBenchEnv&) = delete;

  // Commits `spec` as the next revision and waits until the engine has announced it, as it
  // would tell the AgentHub. Returns the new revision.
  int64_t Commit(const nlohmann::json& spec);

  // Where an agent stands after applying `update`.
  static server::AgentPosition After(const server::PreparedUpdate& update);

  server::PolicyEngine& engine() { return *engine_; }
  storage::Store& store() { return *store_; }

 private:
  int64_t Apply(const nlohmann::json& spec);

  const std::unique_ptr<storage::Store> store_;
  // Never started: the bench deletes no policy, and only deletes count agents.
  server::AgentDirectory directory_;
  server::PolicyService policies_;
  absl::Mutex mu_;
  int64_t announced_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<server::PolicyEngine> engine_;
};

}  // namespace fleet::bench

#endif  // FLEETD_BENCH_POLICY_BENCH_ENV_H_
