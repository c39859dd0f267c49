// Turns committed policy revisions into the updates agents need (DESIGN.md sections 4-5). The
// engine follows the store's policy keys, whoever committed them (this fleetd or, later, another
// replica through etcd), and tells a listener when a policy has a new latest revision. For an
// agent at (policy, revision, hash) it hands out the update to the latest revision: a DELTA (an
// RFC 6902 patch) when the agent's revision is still retained and its hash matches, else a FULL
// document. Each update is computed and serialized once per (policy, from, to) and shared by
// every agent that needs it: the fan-out path does no per-agent JSON work.
#ifndef FLEETD_SERVER_CONTROL_POLICY_ENGINE_H_
#define FLEETD_SERVER_CONTROL_POLICY_ENGINE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fleet/v1/agent.pb.h"
#include "nlohmann/json.hpp"
#include "server/control/update_source.h"
#include "storage/store.h"

namespace fleet::server {

// Thread-safe.
class PolicyEngine final : public UpdateSource {
 public:
  // Called on the engine's thread, in commit order, each time `policy` gets a new latest
  // revision (0 when the policy was deleted). Must not block.
  using Listener = std::function<void(const std::string& policy, int64_t latest_revision)>;

  // Lists the policies in `store` and starts following them. `store` is not owned and outlives
  // the engine. Errors are the store's.
  static absl::StatusOr<std::unique_ptr<PolicyEngine>> Start(storage::Store& store,
                                                             Listener listener);
  // Stops following the store.
  ~PolicyEngine();

  PolicyEngine(const PolicyEngine&) = delete;
  PolicyEngine& operator=(const PolicyEngine&) = delete;

  // The latest revision of `policy`, 0 when there is no such policy.
  int64_t LatestRevision(const std::string& policy);

  // The update that brings an agent at `from` to the latest revision of `policy`; nullptr when it
  // is there already. NOT_FOUND when the policy does not exist; the store's errors.
  absl::StatusOr<PreparedUpdatePtr> UpdateFor(const std::string& policy,
                                              const AgentPosition& from) override;

  // How many updates were computed (not served from the cache) so far; for tests and metrics.
  int64_t updates_computed();

 private:
  // One revision's content, parsed once.
  struct Revision {
    std::string policy;
    int64_t revision = 0;
    nlohmann::json spec;
    std::string canonical;
    std::string sha256;
    absl::Time commit_time;
  };
  using RevisionPtr = std::shared_ptr<const Revision>;

  struct PolicyState {
    int64_t latest = 0;
    int64_t oldest = 0;  // the oldest retained revision (older ones were pruned)
    // Recently used revisions, the latest always among them.
    std::map<int64_t, RevisionPtr> revisions;
    // Updates to `latest`, by base revision; 0 is the FULL one. Dropped when latest moves.
    std::map<int64_t, PreparedUpdatePtr> updates;
  };

  PolicyEngine(storage::Store& store, Listener listener);

  // Lists every policy and starts watching after the listing. Reports the policies found in
  // `changed`.
  absl::Status Resync(std::map<std::string, int64_t>& changed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The engine's thread: applies watched changes and tells the listener.
  void Follow();
  // Applies one committed change of a policy key, noting in `changed` a policy whose latest
  // revision moved.
  void Apply(const storage::Event& event, std::map<std::string, int64_t>& changed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A revision's content, from memory or the store; nullptr when it is not retained.
  absl::StatusOr<RevisionPtr> FindRevision(const std::string& policy, PolicyState& state,
                                           int64_t revision) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The revision stored in `kv`; DATA_LOSS when it does not parse.
  static absl::StatusOr<RevisionPtr> ParseRevision(const storage::KeyValue& kv);
  // Keeps `revision` parsed in `state`, dropping the oldest other than the latest when full.
  static void Cache(PolicyState& state, RevisionPtr revision);
  PreparedUpdatePtr Prepare(const std::string& policy, const Revision& to, const Revision* from);

  storage::Store& store_;  // not owned
  const Listener listener_;

  absl::Mutex mu_;
  std::map<std::string, PolicyState> policies_ ABSL_GUARDED_BY(mu_);
  int64_t updates_computed_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Replaced only by the engine's thread, under mu_ (after a compaction); the destructor cancels
  // it under mu_.
  std::unique_ptr<storage::Watcher> watcher_;
  std::thread thread_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_POLICY_ENGINE_H_
