// The control layer of one fleetd, built in the order its parts depend on each other and
// stopped in the reverse: the rollout tracker, the agents' live state, the agents' mailbox (of
// actions and live queries, which kicks their streams through the hub), the hub of agent streams,
// the agent directory (which tells the hub and the rollout tracker of assignments) and the policy
// engine (which tells the hub and the rollout tracker of changes), and the action engine (which
// posts actions to the mailbox). Part of the composition root:
// FleetdServer (fleetd_server.h) owns one.
#ifndef FLEETD_SERVER_APP_CONTROL_PLANE_H_
#define FLEETD_SERVER_APP_CONTROL_PLANE_H_

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/agent/agent_hub.h"
#include "server/app/connection_summary.h"
#include "server/control/action_engine.h"
#include "server/control/agent_directory.h"
#include "server/control/agent_mailbox.h"
#include "server/control/agent_state.h"
#include "server/control/policy_engine.h"
#include "server/control/query_relay.h"
#include "server/control/query_router.h"
#include "server/control/replica_lease.h"
#include "server/control/rollout_tracker.h"
#include "server/control/session_share.h"
#include "storage/store.h"

namespace fleet::server {

// Thread-safe, as its parts are.
class ControlPlane {
 public:
  // Loads the agents' last state, lists the agents and policies and starts following the
  // store; the engine caches parsed revisions up to `revision_cache_bytes`. `store` and `clock`
  // are not owned and outlive the control plane. Errors: the store's, or UNAVAILABLE when a
  // first listing did not succeed within `sync_timeout`.
  //
  // On a shared store (several replicas), `replica` (its id as state_options.replica) is
  // registered under the replica's lease and the agents' live state is shared with the other
  // replicas (replica_lease.h, session_share.h); ignored on a store of one fleetd.
  static absl::StatusOr<std::unique_ptr<ControlPlane>> Start(
      storage::Store& store, Clock& clock, AgentStateOptions state_options,
      absl::Duration sync_timeout = absl::Seconds(30),
      int64_t revision_cache_bytes = kDefaultRevisionCacheBytes, QueryLimits query_limits = {},
      std::optional<record::ReplicaRecord> replica = std::nullopt);

  // Stops the engine and the directory first, so that nothing calls into the hub or the
  // trackers while they go.
  ~ControlPlane();

  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  RolloutTracker& rollouts() { return rollouts_; }
  AgentStateTracker& state() { return state_; }
  AgentHub& hub() { return hub_; }
  AgentDirectory& directory() { return directory_; }
  AgentMailbox& mailbox() { return mailbox_; }
  ActionEngine& actions() { return *actions_; }
  PolicyEngine& engine() { return *engine_; }
  QueryRouter& queries() { return queries_; }
  // Shared store only (null otherwise): the agents' state shared with the other replicas, and
  // the queries relayed to them.
  SessionShare* sessions() { return sessions_.get(); }
  QueryRelay* relay() { return relay_.get(); }

 private:
  ControlPlane(storage::Store& store, Clock& clock, AgentStateOptions state_options,
               QueryLimits query_limits);

  // In construction order, each after what it refers to.
  RolloutTracker rollouts_;
  AgentStateTracker state_;
  AgentDirectory directory_;
  AgentMailbox mailbox_;
  AgentHub hub_;
  // Live queries: asks through the mailbox the agents the state says are online.
  QueryRouter queries_;
  std::unique_ptr<PolicyEngine> engine_;
  // Posts to the mailbox; started after the directory.
  std::unique_ptr<ActionEngine> actions_;
  // The minute's agent connections line, at info.
  ConnectionSummary connection_summary_{hub_, absl::Minutes(1)};
  // Shared store only: the replica's lease, and the agents' state shared through it.
  std::unique_ptr<ReplicaLease> replica_lease_;
  std::unique_ptr<SessionShare> sessions_;
  // Shared store only: live queries to agents that other replicas hold.
  std::unique_ptr<QueryRelay> relay_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_CONTROL_PLANE_H_
