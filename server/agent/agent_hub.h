// Every agent stream this fleetd serves, by agent and by policy. It tells the streams of a
// policy when the policy changes (from the PolicyEngine), and follows the agents' records in the
// store: an agent moved to another policy is moved on its open stream, an unenrolled one is
// disconnected. A second stream of the same agent replaces the first.
#ifndef FLEETD_SERVER_AGENT_AGENT_HUB_H_
#define FLEETD_SERVER_AGENT_AGENT_HUB_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/agent/agent_session.h"
#include "storage/store.h"

namespace fleet::server {

// Thread-safe.
class AgentHub {
 public:
  // Starts following agent records in `store` (not owned; outlives the hub).
  static absl::StatusOr<std::unique_ptr<AgentHub>> Start(storage::Store& store);
  ~AgentHub();

  // Adds a session; a previous session of the same agent is closed with ABORTED.
  void Register(const std::shared_ptr<AgentSession>& session, const std::string& policy);
  // Removes `session` if it is still the agent's current one; returns whether it was.
  bool Unregister(const AgentSession& session);
  // Reads the agent's record again and moves or disconnects its session accordingly: closes the
  // gap between a stream's authentication and its registration.
  void RecheckAgent(const std::string& agent_id);
  // Kicks every session on `policy`.
  void PolicyChanged(const std::string& policy);
  // Closes every session: the agents are told to go away (reconnect elsewhere or later).
  void CloseAll();
  // How many sessions are open.
  size_t size();

 private:
  explicit AgentHub(storage::Store& store) : store_(store) {}
  void Follow();
  // Reads every session's agent record again (after the watch fell behind the log).
  void Recheck();
  // Moves or disconnects a session after its agent record changed (deleted: `policy` null).
  void AgentChanged(const std::string& agent_id, const std::string* policy);
  // The sessions of `policy`, held so they stay alive while called outside the lock.
  // Kicks every session in `sessions`, from a few threads when there are many.
  static void KickAll(const std::vector<std::shared_ptr<AgentSession>>& sessions);
  std::vector<std::shared_ptr<AgentSession>> SessionsOf(const std::string& policy)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  storage::Store& store_;  // not owned
  absl::Mutex mu_;
  struct Entry {
    std::weak_ptr<AgentSession> session;
    const AgentSession* raw = nullptr;  // identity only; not dereferenced
    std::string policy;
  };
  std::map<std::string, Entry> by_agent_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<std::string>> by_policy_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // Replaced only by the hub's thread (after a compaction), under mu_; cancelled under mu_.
  std::unique_ptr<storage::Watcher> watcher_;
  std::thread thread_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_AGENT_HUB_H_
