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
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

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

  // Drops the agent's state (it was unenrolled): nothing more is written for it.
  void Forget(const std::string& agent_id);

  // The agent's state, nullopt when none is known.
  std::optional<record::AgentStatusRecord> Get(const std::string& agent_id);

  // Whether the agent holds a stream to this fleetd now (status ONLINE); cheaper than Get, which
  // copies the record.
  bool IsOnline(const std::string& agent_id);

  // Loads the persisted state of every agent not seen yet, as offline (no stream of theirs is
  // open here yet), and tells the observer of each. Errors are the store's.
  absl::Status Load();

  // Writes every changed state now. Errors are the store's; what failed stays pending.
  absl::Status Flush();

 private:
  void Run();

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
  };
  static constexpr size_t kShards = 64;
  Shard& ShardOf(const std::string& agent_id);

  std::array<Shard, kShards> shards_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex flush_mu_;  // one flush at a time, so that batches land in order
  std::thread flusher_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_AGENT_STATE_H_
