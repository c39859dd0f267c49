// Every agent stream this fleetd serves, by agent and by policy. It tells the streams of a
// policy when the policy changes (from the PolicyEngine), kicking them from a fixed pool of
// threads, and follows the agent directory (server/control/agent_directory.h): an agent moved to
// another policy is moved on its open stream, an unenrolled one is disconnected, one whose
// credentials an operator asked to rotate is told so on its open stream, and one with mail due
// (an action or a live query: server/control/agent_mailbox.h) is kicked to write it. A second
// stream of the same agent replaces the first.
//
// Mail due for many agents at once (an action to 100,000) is kicked by the hub's own thread, not
// the poster's: MailDueMany returns once the sessions are found, so that a poster (the action
// engine following the store, a live query) never waits for 100,000 writes to start. A few
// sessions (up to kInlineKicks) are kicked on the poster's thread, so that a query to one agent
// never waits behind a big batch.
#ifndef FLEETD_SERVER_AGENT_AGENT_HUB_H_
#define FLEETD_SERVER_AGENT_AGENT_HUB_H_

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/thread_pool.h"
#include "server/agent/agent_session.h"
#include "server/agent/connection_log.h"
#include "server/control/agent_directory.h"
#include "server/control/agent_mailbox.h"

namespace fleet::server {

// Thread-safe.
class AgentHub final : public AgentDirectoryObserver, public MailboxObserver {
 public:
  // `directory` is not owned and outlives the hub; register the hub with it as an observer.
  explicit AgentHub(AgentDirectory& directory);
  // Stops the hub's thread; what MailDueMany queued and was not kicked yet is dropped (call it
  // once the streams have ended).
  ~AgentHub() override;

  // MailDueMany kicks at most this many sessions on the caller's thread.
  static constexpr size_t kInlineKicks = 64;

  AgentHub(const AgentHub&) = delete;
  AgentHub& operator=(const AgentHub&) = delete;

  // Adds a session; a previous session of the same agent is closed with ABORTED.
  void Register(const std::shared_ptr<AgentSession>& session, const std::string& policy);
  // Removes `session` if it is still the agent's current one; returns whether it was.
  bool Unregister(const AgentSession& session);
  // Looks the agent up in the directory again and moves or disconnects its session accordingly,
  // and asks it to rotate its secret when that is asked for: closes the gap between a stream's
  // authentication and its registration.
  void RecheckAgent(const std::string& agent_id);
  // AgentDirectoryObserver: moves or disconnects the agent's session, if it has one here.
  void AgentAssigned(const std::string& agent_id, const std::string& policy) override;
  // AgentDirectoryObserver: tells the agent's session, if it has one here, to rotate its secret.
  void RotationRequested(const std::string& agent_id) override;
  // Kicks every session on `policy`.
  void PolicyChanged(const std::string& policy);
  // MailboxObserver: kicks the agents' sessions here, if they have one (MailDueMany from the
  // hub's thread, in the order of the calls).
  void MailDue(const std::string& agent_id) override;
  void MailDueMany(const std::vector<std::string>& agent_ids) override;
  // Another replica of a shared store took the agent over: its session here, if any, ends as
  // replaced.
  void TakenOver(const std::string& agent_id);
  // Closes every session: the agents are told to go away (reconnect elsewhere or later).
  void CloseAll();
  // How many sessions are open.
  size_t size();
  // Connects and disconnects, logged and counted.
  AgentConnectionLog& connection_log() { return connection_log_; }
  // How many sessions are open per policy, in policy order (a policy may count 0).
  std::vector<std::pair<std::string, size_t>> SizeByPolicy();

 private:
  // Moves the agent's session to `policy` (empty: disconnects it as unenrolled), if it has one.
  void MoveSession(const std::string& agent_id, const std::string& policy)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(assign_mu_);
  // Unregister's work: removes `session` if it is the agent's current one.
  bool Remove(const AgentSession& session) ABSL_LOCKS_EXCLUDED(mu_);
  // The agent's current session here, or null.
  std::shared_ptr<AgentSession> SessionOf(const std::string& agent_id) ABSL_LOCKS_EXCLUDED(mu_);
  // Kicks every session in `sessions`, the sessions of one connection side by side, sharing them
  // out with the kick pool when there are many.
  void KickAll(const std::vector<std::shared_ptr<AgentSession>>& sessions);
  // The hub's thread: kicks the sessions MailDueMany queued, batch by batch.
  void RunMailKicks();
  // The sessions of `policy`, held so they stay alive while called outside the lock.
  std::vector<std::shared_ptr<AgentSession>> SessionsOf(const std::string& policy)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  AgentDirectory& directory_;  // not owned
  AgentConnectionLog connection_log_;
  // Held from reading an agent's assignment to telling its session, so that a recheck's older
  // read can never overtake the directory's newer news of the same agent.
  absl::Mutex assign_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Kicks prepare the shared bytes for one stream and start its write: about ten microseconds of
  // gRPC work each, so one thread would take a second per 100,000 agents.
  ThreadPool kick_pool_{3};
  absl::Mutex mu_;
  struct Entry {
    std::weak_ptr<AgentSession> session;
    const AgentSession* raw = nullptr;  // identity only; not dereferenced
    std::string policy;
  };
  std::map<std::string, Entry> by_agent_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<std::string>> by_policy_ ABSL_GUARDED_BY(mu_);

  absl::Mutex kicks_mu_;
  std::deque<std::vector<std::shared_ptr<AgentSession>>> mail_kicks_ ABSL_GUARDED_BY(kicks_mu_);
  bool stopping_ ABSL_GUARDED_BY(kicks_mu_) = false;
  // Last: started once the rest is built, joined before it goes.
  std::thread mail_kicker_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_AGENT_HUB_H_
