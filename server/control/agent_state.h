// The live state of agents (online, last seen, health, applied and rejected revisions), kept in
// memory, where the admin views read it, and written to /agent_status/ID in the store's unlogged
// state, one batch per flush interval, so that a fleet's heartbeats and acks never cost a durable
// write each nor touch the revision log. After a restart the last written state is loaded back
// (to within one flush interval), every agent offline until it connects again. Changes that
// matter to a rollout (online, policy, applied and refused revisions, but not heartbeats) are
// told to an observer as they happen, so that rollout status never waits for a flush.
#ifndef FLEETD_SERVER_CONTROL_AGENT_STATE_H_
#define FLEETD_SERVER_CONTROL_AGENT_STATE_H_

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/model/records.pb.h"
#include "storage/store.h"

namespace fleet::server {

struct AgentStateOptions {
  absl::Duration flush_interval = absl::Milliseconds(500);
  // A change that only stamps last_seen (a heartbeat) is written at most this often per agent;
  // zero: with the next flush, as every other change.
  absl::Duration last_seen_write_interval = absl::ZeroDuration();
  // On a shared store (several replicas): this replica's id. Empty: a store of one fleetd.
  std::string replica;
};

// Where a replica on a shared store sends, with each flush, the changed states of the agents
// whose sessions it holds (session_share.h shares them with the other replicas).
class AgentStatePublisher {
 public:
  virtual ~AgentStatePublisher() = default;
  // Errors are the store's; the states are published again with the next flush.
  virtual absl::Status Publish(
      const std::vector<std::pair<std::string, record::AgentStatusRecord>>& states) = 0;
};

// Told of each agent whose rollout-relevant state changed. Called on the thread that changed it,
// in order per agent, with the agent's shard lock held (and whatever lock that caller holds: an
// agent stream's protocol lock); must be quick, take no lock but its own, and not call back into
// the tracker.
class AgentStateObserver {
 public:
  virtual ~AgentStateObserver() = default;
  // The agent's new state (status, policy, applied_revision, nacked_revision moved).
  virtual void StateChanged(const std::string& agent_id,
                            const record::AgentStatusRecord& state) = 0;
};

// Thread-safe.
class AgentStateTracker {
 public:
  // Starts the flusher. `store`, `clock` and `observer` (may be null) are not owned and outlive
  // the tracker.
  AgentStateTracker(storage::Store& store, Clock& clock, AgentStateOptions options,
                    AgentStateObserver* observer = nullptr);
  // Flushes what is pending, then stops.
  ~AgentStateTracker();

  AgentStateTracker(const AgentStateTracker&) = delete;
  AgentStateTracker& operator=(const AgentStateTracker&) = delete;

  // Changes the in-memory state of `agent_id` (a fresh record for an agent not seen before) and
  // stamps last_seen; the change reaches the store with the next flush. Never blocks on I/O.
  void Update(const std::string& agent_id,
              const std::function<void(record::AgentStatusRecord&)>& change);

  // Update for a stream that has just said Hello: the agent's session is held here from now on.
  // On a shared store this replica takes it over from any other (and records itself as the
  // holder); Update drops a change to an agent another replica holds, the late word of a stream
  // that was taken over.
  void Claim(const std::string& agent_id,
             const std::function<void(record::AgentStatusRecord&)>& change);

  // Shared store: the replica that holds the agent's stream when it is online through another
  // replica; empty otherwise.
  std::string HolderElsewhere(const std::string& agent_id);

  // Shared store: the state another replica published for an agent (its `replica` says which).
  // Returns true when the agent's stream here must end because that replica took it over (a
  // claim later than this replica's). A stale word (an older claim, or that the agent went
  // offline elsewhere while it is online here) is answered by publishing this replica's state
  // again; a stale word about an agent another replica holds is ignored.
  bool ApplyRemote(const std::string& agent_id, record::AgentStatusRecord state);
  // Shared store: the agent's session record is gone (the replica holding it ended, its lease
  // with it): the agent is offline unless held here (then its state is published again).
  void RemoteGone(const std::string& agent_id);
  // Shared store: every session record there is, as a listing gives them (after a watch
  // error): agents held elsewhere and not listed are offline. Returns the agents whose streams
  // here must end (as ApplyRemote).
  std::vector<std::string> ReplaceRemote(
      const std::vector<std::pair<std::string, record::AgentStatusRecord>>& states);
  // Marks every agent held here for publishing with the next flush (after the replica's lease
  // was lost and granted anew, its session records went with the old one).
  void RepublishHeld();
  // Sets where a shared store's states are published; call before streams arrive. Waits for a
  // flush in progress, so that the previous publisher may go once this returns.
  void SetPublisher(AgentStatePublisher* publisher);

  // Drops the agent's state (it was unenrolled): nothing more is written for it.
  void Forget(const std::string& agent_id);

  // The agent's state, nullopt when none is known.
  std::optional<record::AgentStatusRecord> Get(const std::string& agent_id);

  // Whether the agent holds a stream to this fleetd now (status ONLINE, and on a shared store
  // held by this replica); cheaper than Get, which copies the record.
  bool IsOnline(const std::string& agent_id);

  // Loads the persisted state of every agent not seen yet, as offline (no stream of theirs is
  // open here yet), and tells the observer of each. Errors are the store's.
  absl::Status Load();

  // Writes every changed state now. Errors are the store's; what failed stays pending.
  absl::Status Flush();

 private:
  void Run();
  // Update and Claim.
  void Change(const std::string& agent_id,
              const std::function<void(record::AgentStatusRecord&)>& change, bool claim);
  // Whether `state` belongs to an agent whose session another replica holds.
  bool HeldElsewhere(const record::AgentStatusRecord& state) const {
    return !options_.replica.empty() && !state.replica().empty() &&
           state.replica() != options_.replica;
  }
  bool HeldHere(const record::AgentStatusRecord& state) const {
    return !options_.replica.empty() && state.replica() == options_.replica &&
           state.status() == v1::AGENT_STATUS_ONLINE;
  }

  storage::Store& store_;  // not owned
  Clock& clock_;           // not owned
  const AgentStateOptions options_;
  AgentStateObserver* const observer_;  // not owned; may be null

  // Agents are spread over shards by id, so that the acks and heartbeats that thousands of
  // streams report at once do not all queue on one lock.
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, record::AgentStatusRecord> states ABSL_GUARDED_BY(mu);
    // Ids whose state changed since the last flush.
    absl::flat_hash_set<std::string> dirty ABSL_GUARDED_BY(mu);
    // With last_seen_write_interval: when each agent was last marked dirty (unix micros).
    absl::flat_hash_map<std::string, int64_t> dirtied_at ABSL_GUARDED_BY(mu);
  };
  static constexpr size_t kShards = 64;
  Shard& ShardOf(const std::string& agent_id);

  std::array<Shard, kShards> shards_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex flush_mu_;  // one flush at a time, so that batches land in order
  std::atomic<AgentStatePublisher*> publisher_{nullptr};  // not owned
  std::thread flusher_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_AGENT_STATE_H_
