// Every enrolled agent this fleetd knows of, in memory: its policy, the hashes of its current and
// pending secrets and whether a rotation is asked for (agent_credentials.h), kept current by a
// Reflector on the store's /agents/ keys (storage/reflector.h), whoever wrote them (enrollment, an
// operator's reassign or unenroll, later another replica). Connect authenticates against it without
// a store read, the hub follows its changes to move or close open streams, and the rollout tracker
// learns from it which agents each policy has.
#ifndef FLEETD_SERVER_CONTROL_AGENT_DIRECTORY_H_
#define FLEETD_SERVER_CONTROL_AGENT_DIRECTORY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/protobuf/map.h"
#include "server/model/records.pb.h"
#include "storage/reflector.h"
#include "storage/store.h"

namespace fleet::server {

// Told of each agent whose assignment changed: once per batch of commits the directory takes in,
// with the newest assignment (a batch may hold several commits). Called on the directory's
// thread, outside its lock; must not block for long.
class AgentDirectoryObserver {
 public:
  virtual ~AgentDirectoryObserver() = default;
  // `agent_id` is now on `policy`; an empty policy means it was unenrolled.
  virtual void AgentAssigned(const std::string& agent_id, const std::string& policy) = 0;
  // An operator asked (again) for a new secret for `agent_id` (agent.proto, "Credential
  // rotation").
  virtual void RotationRequested(const std::string& /*agent_id*/) {}
};

// An agent that Connect's credentials authenticate, as the directory knows it.
struct AuthenticatedAgent {
  std::string policy;
  // The credentials were the pending secret (its raw SHA-256 here), which the agent thus holds;
  // empty for the current secret.
  std::string pending_sha256;
  // An operator asked for a new secret, and when the current one was issued (for the maximum
  // age).
  bool rotation_requested = false;
  absl::Time secret_issued_at;
};

// What the directory tells of an enrolled agent to those who pick agents by it (the targets of an
// action or a live query).
struct DirectoryAgent {
  std::string hostname;
  std::string policy;
  google::protobuf::Map<std::string, std::string> labels;
};

// Thread-safe.
class AgentDirectory final : private storage::ReflectorHandler {
 public:
  // `store` is not owned and outlives the directory. Nothing is read until Start.
  explicit AgentDirectory(storage::Store& store) : store_(store) {}
  ~AgentDirectory() override;

  // Stops following the store: no observer is called once it returns. Idempotent; call it once
  // nothing else calls the directory any more.
  void Stop();

  AgentDirectory(const AgentDirectory&) = delete;
  AgentDirectory& operator=(const AgentDirectory&) = delete;

  // Adds an observer (not owned; outlives the directory). Only before Start.
  void AddObserver(AgentDirectoryObserver& observer) { observers_.push_back(&observer); }

  // Starts following the store and waits up to `sync_timeout` for the first listing, which
  // observers hear of agent by agent. UNAVAILABLE when it did not succeed in time.
  absl::Status Start(absl::Duration sync_timeout = absl::Seconds(30));

  // The agent whose id and secret (its current or its pending one) these are. UNAUTHENTICATED
  // for an unknown agent or a wrong secret; UNAVAILABLE while the directory is not synced with
  // the store.
  absl::StatusOr<AuthenticatedAgent> Authenticate(const std::string& agent_id,
                                                  const std::string& secret);

  // The agent's policy; empty when it is not enrolled.
  std::string PolicyOf(const std::string& agent_id);

  // Whether an operator asked for a new secret for the agent (false when it is not enrolled).
  bool RotationRequested(const std::string& agent_id);

  // How many agents are on `policy`, once the directory has seen the store up to `revision`.
  // UNAVAILABLE when it has not within a few seconds.
  absl::StatusOr<int64_t> AgentsOn(const std::string& policy, int64_t revision);

  // The id and hostname of every enrolled agent for which match(agent) is true, in id order, once
  // the directory has seen the store up to `revision`. `match` is called under the directory's
  // lock: quick, and it must not call the directory. UNAVAILABLE when the directory has not seen
  // `revision` within a few seconds.
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> Select(
      int64_t revision, const std::function<bool(const DirectoryAgent&)>& match);

  // Waits up to `timeout` until the directory knows `agent_id`; returns whether it does.
  bool WaitForAgent(const std::string& agent_id, absl::Duration timeout);

  // Waits up to `timeout` until the directory has seen the store up to `revision`.
  bool WaitForRevision(int64_t revision, absl::Duration timeout);

  bool synced() { return reflector_ != nullptr && reflector_->synced(); }
  int64_t restarts() { return reflector_ == nullptr ? 0 : reflector_->restarts(); }

 private:
  struct Entry {
    // Hostname, policy and labels.
    DirectoryAgent facts;
    std::string secret_sha256;
    std::string pending_sha256;
    // rotation_requested_at in unix micros; 0 for none.
    int64_t rotation_requested_us = 0;
    absl::Time secret_issued_at;
  };
  // What the directory keeps of a record.
  static Entry EntryOf(const record::AgentRecord& record);

  void Replace(const std::vector<storage::KeyValue>& kvs, int64_t revision) override;
  void Apply(const storage::WatchBatch& batch) override;
  // What a batch changed that observers hear of.
  struct Changes {
    std::map<std::string, std::string> assigned;  // agent -> its new policy
    std::vector<std::string> rotations;           // agents whose rotation was asked for anew
  };
  // Sets (or, for nullptr, removes) the entry of `agent_id`; notes in `changes` what moved.
  void Set(const std::string& agent_id, const Entry* entry, Changes& changes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify(const Changes& changes);

  storage::Store& store_;                           // not owned
  std::vector<AgentDirectoryObserver*> observers_;  // not owned; fixed once started

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> agents_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int64_t> per_policy_ ABSL_GUARDED_BY(mu_);
  // Last: stopped first, so that no handler call runs once the rest goes.
  std::unique_ptr<storage::Reflector> reflector_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_AGENT_DIRECTORY_H_
