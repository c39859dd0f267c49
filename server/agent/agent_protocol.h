// The server's side of one agent's Connect stream (proto/fleet/v1/agent.proto) as a state
// machine apart from its transport: events in (the agent's messages, the server's changes, the
// transport's completions), decisions out (write these bytes, finish with this status, or
// nothing). AgentSession (agent_session.h) carries the bytes over gRPC; the tests drive the
// protocol without a network.
//
// The rules:
//  - The stream opens with Hello, and only then: anything else first, or a second Hello, ends
//    it with INVALID_ARGUMENT (so does an unreadable or empty message, or one out of the bounds
//    of agent_message_check.h). The answer is Welcome (heartbeat interval, the agent's policy),
//    then the update the agent needs, if any.
//  - What Hello claims is applied counts only once the UpdateSource's answer confirms it (see
//    update_source.h): nothing to send (the agent holds the latest revision and its hash), or an
//    update prepared from the claimed revision. Any other answer means the agent holds nothing
//    usable: it gets that answer (FULL) and counts as having applied nothing until it acks. Until
//    the answer comes, the state keeps the applied revision only if the server recorded that same
//    one before.
//  - At most one policy update is unacknowledged; changes meanwhile coalesce: the next update
//    is always to the newest revision.
//  - An Ack with the sent hash moves the agent to that revision. A Nack keeps it where it was,
//    and the refused revision is not sent again unless the agent asks for FULL (needs_full):
//    FULL is sent once, and a refused FULL is not sent again. An Ack with another hash counts as
//    a refusal that asks for FULL.
//  - Failures of one update are counted in the agent's state, across streams: a Nack of it (or
//    an Ack with another hash), or a stream that ended with it in flight unanswered (not one
//    the server ended by shutting down). After kHoldAfterFailures in a row it counts as refused
//    (nacked_revision) and is held back: not sent for HoldAfterFailures(n), a minute doubling
//    with each further failure up to an hour, decided with the Clock whenever the update would
//    be sent (on a kick, a Hello, any message of the agent), so that an agent that cannot take
//    it is not sent the same bytes in a tight loop. A newer revision goes out at once; an Ack
//    (or a Hello confirmed at or past it) starts the count over.
//  - An Ack or Nack for a revision not in flight ends the stream with INVALID_ARGUMENT, except
//    the answer to an update abandoned when the agent was reassigned, which is dropped.
//  - Reassigned with an update in flight: the next update is the new policy's.
//  - Unenrolled: the agent's state is forgotten, the stream ends with UNAUTHENTICATED.
//    Replaced by a newer stream of the agent: ends with ABORTED. Shutting down: GoAway is
//    queued, no updates follow, and the agent closes its side (its answers in flight still
//    land). A failed write: nothing more is written, the stream ends with UNAVAILABLE. The
//    agent closed its side: the stream ends with OK.
//  - Credential rotation (agent.proto, "Credential rotation"): once the agent has said Hello, and
//    while the stream is not ending, a rotation starts when one is due: an operator asked for it
//    (known at authentication, or told later by OnRotationRequested), or the current secret is
//    at least credential_max_age old (decided with the Clock on any event, so a heartbeat does
//    it). The protocol mints the new secret and asks the transport to commit its hash as pending
//    (Action::credentials); only once that commit succeeded is Credentials queued (as a control
//    message). The agent's CredentialsConfirmed with that secret asks for the promotion commit;
//    one with nothing awaiting confirmation or with another secret ends the stream with
//    INVALID_ARGUMENT. A stream authenticated with the pending secret asks for the promotion
//    on its first event, without sending anything. A promotion goes ahead even on a stream that
//    is ending; a new rotation starts only on a live one. A failed commit is retried, after
//    kCredentialRetryDelay, on a later event (a promotion that found another pending secret is
//    not: a fresh rotation follows when one is still due). At most one commit is in flight.
//  - Actions and live queries (agent.proto, "Actions", "Live queries"): once the agent has said
//    Hello and while the stream is not ending, the agent's mail (agent_mailbox.h) is written
//    after the control messages and any policy update due, one mail at a time, in the mailbox's
//    order; the protocol keeps the sequence number of the last one written (its cursor), so that
//    nothing is written twice on one stream, and tells the mail's sender once its write
//    completed. A policy update in flight does not hold mail back. The agent's ActionStatus
//    goes to the ActionReportSink and its QueryResult to the QueryReportSink, checked and cut
//    (agent_message_check.h) and handed over outside the protocol's lock; an ActionStatus for an
//    action that does not name the agent (the sink's NOT_FOUND) ends the stream with
//    INVALID_ARGUMENT. A Hello's agent_version goes into the agent's state.
//  - One write in flight; a Finish only once no write is in flight, and only once.
//  Updates are the UpdateSource's shared bytes (PreparedUpdate::serialized_message), written as
//  they are: nothing is serialized per agent but Welcome and GoAway.
//
// Threads: every method may be called from any thread, concurrently (gRPC reactions on the
// stream's completion queue, the hub's kicks and moves on its threads). The protocol holds its
// own lock, taken before AgentStateTracker's, the AgentMailbox's (and a Clock's) and no other; it
// never holds it while asking the UpdateSource (which takes its own lock and may read the store),
// nor while calling a report sink or a mail's sender, nor when a method returns. The caller
// performs the returned Action itself, with no lock held that a reaction of its transport could
// need (gRPC may run them inline). The transport reports OnWriteDone once for every kWrite, reads
// the next message only when a ReadOutcome says so, and calls OnEnded last.
#ifndef FLEETD_SERVER_AGENT_AGENT_PROTOCOL_H_
#define FLEETD_SERVER_AGENT_AGENT_PROTOCOL_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "fleet/v1/agent.pb.h"
#include "server/agent/agent_metrics.h"
#include "server/control/agent_mailbox.h"
#include "server/control/agent_reports.h"
#include "server/control/agent_state.h"
#include "server/control/credential_writer.h"
#include "server/control/update_source.h"

namespace fleet::server {

// What every protocol needs; all of it outlives every protocol.
struct AgentProtocolDeps {
  UpdateSource& updates;
  AgentStateTracker& state;
  Clock& clock;
  absl::Duration heartbeat_interval;
  const AgentMetrics* metrics = nullptr;  // none: nothing is recorded
  // A secret at least this old is rotated (fleetd's --credential-max-age); zero: no limit.
  absl::Duration credential_max_age = absl::ZeroDuration();
  // Actions and live queries (agent_mailbox.h, agent_reports.h); null: the stream carries none,
  // and an agent's ActionStatus or QueryResult ends it with INVALID_ARGUMENT (action) or is
  // dropped (query).
  AgentMailbox* mailbox = nullptr;
  ActionReportSink* actions = nullptr;
  QueryReportSink* queries = nullptr;
};

// What the stream's authentication found about the agent's credentials (agent_directory.h).
struct StreamCredentials {
  // The raw SHA-256 of the pending secret the agent authenticated with (it holds it: the
  // stream promotes it after Hello); empty when it used its current secret.
  std::string pending_sha256;
  // An operator asked for a new secret.
  bool rotation_requested = false;
  // When the current secret was issued, for credential_max_age.
  absl::Time secret_issued_at = absl::InfiniteFuture();
};

// How long after a failed credential commit the protocol tries again.
inline constexpr absl::Duration kCredentialRetryDelay = absl::Seconds(10);

// How many failures of one update in a row make it held back, and for how long after the last
// of `failures` (kHoldAfterFailures or more) it is held: 1 minute, doubling, at most 1 hour.
inline constexpr int32_t kHoldAfterFailures = 3;
absl::Duration HoldAfterFailures(int32_t failures);

// Thread-safe (see the file comment for who calls what).
class AgentProtocol {
 public:
  // What the transport does next.
  struct Action {
    enum class Kind {
      kNone,
      // Write `bytes`, a serialized ServerMessage, and report OnWriteDone. The pointer keeps
      // the bytes alive: hold it until the write is done. No other kWrite comes before that.
      kWrite,
      // Finish the stream with `status`. Comes once, never while a write is in flight.
      kFinish,
    };
    Kind kind = Kind::kNone;
    std::shared_ptr<const std::string> bytes;
    absl::Status status;
    // Besides `kind`: commit this step of a credential rotation (CredentialWriter) and report
    // OnCredentialsCommitted with its result. No other comes before that report.
    std::optional<CredentialChange> credentials;
  };

  // What the transport does after the agent's message.
  struct ReadOutcome {
    // Whether to read the agent's next message: false once the stream is ending.
    bool read_next = false;
    Action action;
  };

  // The stream of `agent_id`, authenticated with `credentials` and assigned to `policy`, before
  // its first read.
  AgentProtocol(const AgentProtocolDeps& deps, std::string agent_id, std::string policy,
                StreamCredentials credentials = {});

  AgentProtocol(const AgentProtocol&) = delete;
  AgentProtocol& operator=(const AgentProtocol&) = delete;

  // The agent's messages. An unreadable one (it does not parse: protobuf also refuses a string
  // that is not UTF-8) is a protocol error like an empty one, and says so.
  [[nodiscard]] ReadOutcome OnMessage(const v1::AgentMessage& message);
  [[nodiscard]] ReadOutcome OnUnreadableMessage();
  // The agent closed its side, or the stream broke (a read failed): no more messages come.
  [[nodiscard]] Action OnAgentClosed();

  // The agent's policy has a new latest revision (or its content is ready: see UpdateSource).
  [[nodiscard]] Action OnPolicyChanged();
  // The agent was moved to `policy`: it gets that policy's update next.
  [[nodiscard]] Action OnReassigned(const std::string& policy);
  // The agent was unenrolled: the stream ends with UNAUTHENTICATED, and OnEnded forgets its
  // state.
  [[nodiscard]] Action OnUnenrolled();
  // A newer stream of the agent took over: this one ends with ABORTED.
  [[nodiscard]] Action OnReplaced();
  // The server is shutting down: the agent is told to go away, and closes its side.
  [[nodiscard]] Action OnShutdown();
  // An operator asked for a new secret for the agent.
  [[nodiscard]] Action OnRotationRequested();
  // The commit of the last Action::credentials ended with `status`; `rotation_requested` as
  // CredentialWriter::Done says it.
  [[nodiscard]] Action OnCredentialsCommitted(const absl::Status& status,
                                              bool rotation_requested = false);

  // The write of the last kWrite completed; `ok` false when it failed (the stream broke).
  [[nodiscard]] Action OnWriteDone(bool ok);

  // The stream is over (its Finish completed): the last event. `current` says whether it was
  // still the agent's current stream; a replaced one leaves the agent's state to its successor.
  void OnEnded(bool current);

 private:
  // An ActionStatus or a QueryResult: checked under the lock, handed to its sink outside it.
  ReadOutcome OnReport(const v1::AgentMessage& message) ABSL_LOCKS_EXCLUDED(mu_);
  // The next mail for the agent, if the stream may write and has one.
  Action NextMail() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Handles one message; an error ends the stream with it.
  absl::Status Handle(const v1::AgentMessage& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleHello(const v1::Hello& hello) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The UpdateSource answered for the Hello's position: `confirmed` when the answer proves the
  // agent holds what it claimed.
  void SettleClaim(bool confirmed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes `state` speak of policy_: the revisions of another policy mean nothing here.
  void OnPolicy(record::AgentStatusRecord& state) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts in `state` a failure of `revision` of policy_, and keeps the count here too.
  void CountFailure(record::AgentStatusRecord& state, int64_t revision)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Copies the failure count of `state` (on policy_) here.
  void MirrorFailures(const record::AgentStatusRecord& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether `revision` failed too often lately to be sent now.
  bool Held(int64_t revision) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status HandleAnswer(int64_t revision, bool acked, const std::string& sha256,
                            const std::string& reason, bool needs_full)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status HandleConfirmation(const v1::CredentialsConfirmed& confirmed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The credential commit to start now, if one is due and none is in flight.
  std::optional<CredentialChange> NextCredentialCommit() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A message was handled with `error`: the stream ends with it unless it is OK. Returns
  // whether to read on.
  bool AfterMessage(const absl::Status& error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Whether the stream ends: a Finish is due, or the agent was told to go away.
  bool Ending() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stream ends with `status` (unless a Finish is due already) once the write in flight
  // lands.
  void EndWith(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The server ends the stream with `status`; ignored while it is ending already (an agent told
  // to go away is still answering).
  void Close(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Queue(const v1::ServerMessage& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // What to do next: the credential commit due, if any, besides the next write or Finish
  // (AdvanceStream). Takes mu_ itself.
  Action Advance() ABSL_LOCKS_EXCLUDED(mu_);
  // Queued control messages first, then the Finish due, then the policy update the agent needs,
  // if any and if none is unacknowledged. Takes mu_ itself, and asks the UpdateSource without it.
  Action AdvanceStream() ABSL_LOCKS_EXCLUDED(mu_);
  // The queued control message, or the Finish due, if the stream is idle.
  Action NextControl() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the stream is idle and not ending, and the agent has said Hello and holds no update.
  bool WantsUpdate() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Action Write(std::shared_ptr<const std::string> bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AgentProtocolDeps deps_;
  const std::string agent_id_;

  absl::Mutex mu_;
  std::string policy_ ABSL_GUARDED_BY(mu_);
  bool hello_ ABSL_GUARDED_BY(mu_) = false;
  AgentPosition position_ ABSL_GUARDED_BY(mu_);
  // position_ is the Hello's claim, not confirmed yet by the UpdateSource.
  bool claim_pending_ ABSL_GUARDED_BY(mu_) = false;
  // The agent's failures of one update in a row, as its state holds them.
  int64_t failed_revision_ ABSL_GUARDED_BY(mu_) = 0;
  int32_t failures_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_failure_ ABSL_GUARDED_BY(mu_);
  // The revision sent and not yet acked or nacked (0: none), and what was sent for it.
  int64_t unacked_ ABSL_GUARDED_BY(mu_) = 0;
  std::string unacked_sha256_ ABSL_GUARDED_BY(mu_);
  bool unacked_full_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time unacked_committed_ ABSL_GUARDED_BY(mu_);  // its revision's commit time
  // An update of the previous policy still in flight when the agent was reassigned (0: none).
  int64_t abandoned_ ABSL_GUARDED_BY(mu_) = 0;
  // The newest revision the agent refused; not sent again unless it asks for a FULL document.
  int64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
  // Serialized control messages (Welcome, GoAway), written before any update.
  std::deque<std::shared_ptr<const std::string>> control_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;                // a kWrite awaits OnWriteDone
  std::optional<absl::Status> finish_ ABSL_GUARDED_BY(mu_);  // a Finish with this is due
  bool going_away_ ABSL_GUARDED_BY(mu_) = false;             // GoAway queued: no more updates
  bool unenrolled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // kFinish was handed out
  // Credential rotation: where it stands, what is due, and the new secret in flight (the token
  // sent, and the raw hash of its secret: the pending one).
  enum class Rotation {
    kIdle,
    kStarting,   // the pending secret's commit is in flight
    kSent,       // Credentials queued or sent; awaiting CredentialsConfirmed
    kPromote,    // the agent holds the pending secret; its promotion is due
    kPromoting,  // the promotion's commit is in flight
  };
  Rotation rotation_ ABSL_GUARDED_BY(mu_) = Rotation::kIdle;
  bool rotation_requested_ ABSL_GUARDED_BY(mu_) = false;
  // OnRotationRequested came while the promotion was in flight: it may be a request the
  // promoted record does not show yet, so it outlives the promotion.
  bool requested_while_promoting_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time secret_issued_at_ ABSL_GUARDED_BY(mu_);
  std::string new_secret_ ABSL_GUARDED_BY(mu_);
  std::string new_sha256_ ABSL_GUARDED_BY(mu_);
  // No credential commit starts before this (after a failed one).
  absl::Time retry_after_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // The sequence number of the last mail written (agent_mailbox.h), and the mail being written
  // (null: the write in flight is no mail).
  uint64_t mail_cursor_ ABSL_GUARDED_BY(mu_) = 0;
  MailPtr mail_in_flight_ ABSL_GUARDED_BY(mu_);
  // Bumped whenever what the next update depends on changes (policy, position, update in
  // flight), so that an update asked for outside the lock is dropped if it went stale; whoever
  // bumped it asks again.
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_AGENT_PROTOCOL_H_
