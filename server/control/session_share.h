// How the replicas of a shared store (etcd) share their agents' live state, so that rollout
// status, agent lists and query and action counts are right on every replica:
//  - each replica publishes, with each flush of its AgentStateTracker, the changed states of
//    the agents whose streams it holds, at /sessions/ID under its lease (replica_lease.h), in
//    transactions of at most `batch` keys (and what the store takes); only the holder writes an
//    agent's record;
//  - each replica follows /sessions/ with a Reflector and hands the other replicas' records to
//    its tracker: an agent another replica now holds, whose stream is still here, was taken over
//    (its stream here ends); an agent whose record went (its replica's lease ended) is offline.
#ifndef FLEETD_SERVER_CONTROL_SESSION_SHARE_H_
#define FLEETD_SERVER_CONTROL_SESSION_SHARE_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/control/agent_state.h"
#include "server/control/replica_lease.h"
#include "storage/reflector.h"
#include "storage/store.h"

namespace fleet::server {

// etcd's default --max-txn-ops is 128.
inline constexpr size_t kSessionBatch = 100;

// Thread-safe.
class SessionShare final : public AgentStatePublisher, private storage::ReflectorHandler {
 public:
  // `store` (Shared()), `state` and `lease` are not owned and outlive this. `on_taken_over` is
  // called on the reflector's thread with an agent whose stream here must end; it must not
  // block.
  SessionShare(storage::Store& store, AgentStateTracker& state, ReplicaLease& lease,
               std::function<void(const std::string&)> on_taken_over, size_t batch = kSessionBatch);
  ~SessionShare() override;
  SessionShare(const SessionShare&) = delete;
  SessionShare& operator=(const SessionShare&) = delete;

  // Starts following /sessions/. UNAVAILABLE when the first listing took longer than `timeout`.
  absl::Status Start(absl::Duration timeout);
  // Stops following; the tracker may go after this.
  void Stop();
  // Whether the view of the other replicas' agents is current (for readiness).
  bool synced();

  // AgentStatePublisher: the states as leased puts, `batch` per transaction.
  absl::Status Publish(
      const std::vector<std::pair<std::string, record::AgentStatusRecord>>& states) override;

 private:
  // ReflectorHandler, on the reflector's thread.
  void Replace(const std::vector<storage::KeyValue>& kvs, int64_t revision) override;
  void Apply(const storage::WatchBatch& batch) override;

  storage::Store& store_;     // not owned
  AgentStateTracker& state_;  // not owned
  ReplicaLease& lease_;       // not owned
  const std::function<void(const std::string&)> on_taken_over_;
  const size_t batch_;
  std::unique_ptr<storage::Reflector> reflector_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_SESSION_SHARE_H_
