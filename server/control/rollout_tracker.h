// How far each policy's revisions have rolled out, kept in memory and updated as agents change:
// assignments from the agent directory (enrolled, reassigned, unenrolled) and live state from
// the agent state tracker (online, offline, acked, refused, and the state loaded at start).
// Counting a revision costs a walk over the distinct (online, applied, refused) triples of the
// policy's agents, which a rollout keeps to a handful, never a scan of agents; watchers wait for a
// policy's counts to change instead of polling.
//
// An agent counts as online while a stream of it is open on this fleetd (its state says online);
// revisions count only for the policy the agent is on now. What an agent acked or refused counts
// whether it is online or not: an agent that applied a revision and disconnected still applied
// it.
#ifndef FLEETD_SERVER_CONTROL_ROLLOUT_TRACKER_H_
#define FLEETD_SERVER_CONTROL_ROLLOUT_TRACKER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/control/agent_directory.h"
#include "server/control/agent_state.h"

namespace fleet::server {

// The agents of one policy, by how far they got with one revision. Every agent is in exactly one
// of acked, nacked, pending and pending_offline, so they add up to `agents`.
struct RolloutCounts {
  int64_t agents = 0;           // assigned to the policy
  int64_t acked = 0;            // applied the revision or a later one, online or not
  int64_t nacked = 0;           // refused it (or a later one) and applied neither, online or not
  int64_t pending = 0;          // online, neither yet
  int64_t pending_offline = 0;  // not connected, neither yet
  int64_t offline = 0;          // not connected, whatever it did
};

// Thread-safe.
class RolloutTracker final : public AgentDirectoryObserver, public AgentStateObserver {
 public:
  RolloutTracker() = default;

  RolloutTracker(const RolloutTracker&) = delete;
  RolloutTracker& operator=(const RolloutTracker&) = delete;

  // The counts of `policy` for `revision`, and the policy's version (see AwaitChange).
  std::pair<RolloutCounts, int64_t> Count(const std::string& policy, int64_t revision);

  // The version of `policy`'s counts: it moves whenever they (or the policy) change.
  int64_t Version(const std::string& policy);

  // Waits up to `timeout` until the version of `policy` differs from `version` (its counts or
  // its revisions changed); returns the version then.
  int64_t AwaitChange(const std::string& policy, int64_t version, absl::Duration timeout);

  // The policy got a new revision (or was deleted): its watchers look again.
  void PolicyChanged(const std::string& policy);

  // AgentDirectoryObserver.
  void AgentAssigned(const std::string& agent_id, const std::string& policy) override;
  // AgentStateObserver.
  void StateChanged(const std::string& agent_id, const record::AgentStatusRecord& state) override;

 private:
  struct Agent {
    std::string policy;  // assigned (empty: not enrolled, state only)
    bool online = false;
    std::string state_policy;  // the policy its revisions below are of
    int64_t applied = 0;
    int64_t nacked = 0;
  };
  struct PolicyCounts {
    int64_t agents = 0;
    int64_t offline = 0;
    // Agents by (online, applied, refused) revision of this policy.
    std::map<std::tuple<bool, int64_t, int64_t>, int64_t> by_state;
    int64_t version = 0;
  };

  // Adds (+1) or removes (-1) `agent`'s share of its policy's counts.
  void Count(const Agent& agent, int delta) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Bump(const std::string& policy) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Agent> agents_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, PolicyCounts> policies_ ABSL_GUARDED_BY(mu_);
  // Signalled on every change; each waiter checks its own policy's version.
  absl::CondVar changed_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_ROLLOUT_TRACKER_H_
