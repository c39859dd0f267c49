// What waits for agents' streams besides policy updates: actions, action cancels and live
// queries (agent.proto, "Actions" and "Live queries"). The ActionEngine and the QueryRouter post
// mail for agents; each stream's protocol (server/agent/agent_protocol.h) takes the agent's mail
// in order, one at a time, and reports each one written.
//
// The per-agent cursor: every mail gets a sequence number when it becomes due for its recipient,
// increasing across the mailbox, and a stream remembers the number of the last mail it wrote.
// Next(after = that number) hands it only later mail, so nothing is written twice on one stream; a
// new stream starts from 0 and gets again what is still here (an action not finished yet), which
// the agent treats by id. Mail stays until its poster removes it (an action target finished, a
// query ended) or it expires; it becomes due at its recipient's not_before (an action's place in
// its rollout), when the mailbox tells its observer (the hub, which kicks the agent's stream), as
// it does at once for mail due when posted.
//
// The bytes of a mail are one serialized ServerMessage shared by every recipient: posting to
// 100,000 agents serializes nothing per agent.
#ifndef FLEETD_SERVER_CONTROL_AGENT_MAILBOX_H_
#define FLEETD_SERVER_CONTROL_AGENT_MAILBOX_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace fleet::server {

class MailSender;

// One message for any number of agents. Immutable once posted.
struct Mail {
  enum class Kind { kAction, kActionCancel, kQuery };
  Kind kind = Kind::kAction;
  // The action's or the query's id.
  std::string id;
  // A serialized ServerMessage.
  std::shared_ptr<const std::string> bytes;
  // Not handed out at or after this.
  absl::Time expires_at = absl::InfiniteFuture();
  // Told when the mail was written to a stream; not owned, outlives the mail (may be null).
  MailSender* sender = nullptr;
};
using MailPtr = std::shared_ptr<const Mail>;

// Told that a stream of `agent_id` wrote `mail` (the write completed). Called on a
// completion-queue thread with no lock held: quick, never blocking.
class MailSender {
 public:
  virtual ~MailSender() = default;
  virtual void Delivered(const std::string& agent_id, const Mail& mail) = 0;
};

// Told that mail for `agent_id` is due: kick the agent's stream, if it has one. Called from the
// poster's thread or the mailbox's timer thread, with no mailbox lock held; quick.
class MailboxObserver {
 public:
  virtual ~MailboxObserver() = default;
  virtual void MailDue(const std::string& agent_id) = 0;
  // Many at once (a post to many agents): the default tells MailDue of each.
  virtual void MailDueMany(const std::vector<std::string>& agent_ids) {
    for (const std::string& id : agent_ids) MailDue(id);
  }
};

// Thread-safe.
class AgentMailbox {
 public:
  // A mail handed to a stream: its place in the agent's order, and the mail.
  struct Posted {
    uint64_t seq = 0;
    MailPtr mail;
  };

  // `clock` is not owned and outlives the mailbox. Starts the timer thread.
  explicit AgentMailbox(Clock& clock);
  // Stop()s.
  ~AgentMailbox();

  // Stops the timer thread: the observer is not told of mail any more once it returns, but by
  // Post. Idempotent.
  void Stop();

  AgentMailbox(const AgentMailbox&) = delete;
  AgentMailbox& operator=(const AgentMailbox&) = delete;

  // The observer told of due mail (null: none); not owned, outlives the mailbox or is unset
  // before it goes. Set it before the first Post.
  void SetObserver(MailboxObserver* observer);

  // Posts `mail` to each agent, due at its not_before (InfinitePast: at once); tells the observer
  // of those due now, and of the others when they become due.
  void Post(const MailPtr& mail, const std::vector<std::pair<std::string, absl::Time>>& recipients);
  // Removes the mail of `kind` and `id` for `agent_id`, if it has it.
  void Remove(const std::string& agent_id, Mail::Kind kind, const std::string& id);

  // The agent's first due mail with a sequence number above `after` that has not expired;
  // nullopt when there is none. Expired mail is dropped on the way. Reads the clock only when
  // the agent has mail.
  std::optional<Posted> Next(const std::string& agent_id, uint64_t after);

  // How many agents have mail, and how many mails wait in all.
  std::pair<size_t, size_t> Size();

  // Tells the observer of mail that became due by now; the timer thread calls it, and tests with a
  // ManualClock call it after moving the clock.
  void WakeDue();

 private:
  struct Entry {
    // Given when the mail becomes due (0 until then), so that the agent's mail is handed out in
    // the order it became due and a stream's cursor never passes over mail that was not due yet.
    uint64_t seq = 0;
    absl::Time not_before;
    MailPtr mail;
  };
  // Puts `entry` into `box`, which is in sequence order with the entries not due yet last.
  static void Insert(std::vector<Entry>& box, Entry entry);
  // Agents spread over shards by id, so that posting to 100,000 agents and their streams taking
  // mail do not all queue on one lock.
  struct Shard {
    absl::Mutex mu;
    absl::flat_hash_map<std::string, std::vector<Entry>> boxes ABSL_GUARDED_BY(mu);
  };
  static constexpr size_t kShards = 32;
  Shard& ShardOf(const std::string& agent_id);
  MailboxObserver* observer();
  void RunTimer();

  Clock& clock_;  // not owned
  std::array<Shard, kShards> shards_;
  std::atomic<uint64_t> next_seq_{1};

  absl::Mutex mu_;
  MailboxObserver* observer_ ABSL_GUARDED_BY(mu_) = nullptr;  // not owned
  // When each agent's mail not due at posting becomes due.
  using Wake = std::pair<absl::Time, std::string>;
  std::priority_queue<Wake, std::vector<Wake>, std::greater<Wake>> wakes_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread timer_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_AGENT_MAILBOX_H_
