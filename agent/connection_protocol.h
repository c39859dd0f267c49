// The agent's side of the Connect protocol (agent.proto, "Life of an agent", steps 2 to 5), as a
// state machine apart from gRPC: events in (Start, a stream started, a server message, a stream
// ended with its status, a timer fired, Stop), decisions out through a Transport (open a stream,
// send a message, half-close, cancel the stream, set or cancel a timer, finish). Time comes from
// an injected Clock and randomness from an injected generator, so that every rule is tested
// without a network or sleeping (tests/agent/connection_protocol_test.cc). AgentConnection
// (agent_connection.h) carries it over gRPC.
//
// The rules:
// - Every stream opens with a Hello naming what is applied now (policy, revision, hash), so that
//   after a reconnect the server resumes from there.
// - Each PolicyUpdate is applied to a copy of the last good policy (policy_applier.h) and
//   answered: Ack with the new hash when it applied; Nack (needs_full when a DELTA cannot apply)
//   when it did not, or when the `refuse` hook said no, and the last good policy stays.
// - Welcome: the StatusReport of the options (if any) goes out, a Heartbeat every
//   heartbeat_interval from then on, and the reconnect backoff starts over.
// - GoAway: half-close after what is queued and, once the stream has ended, reconnect after
//   reconnect_after times a factor in [1, 1 + jitter).
// - Credentials (credential rotation): the new secret is saved through the transport (durably,
//   before anything else), and only once it is saved is CredentialsConfirmed sent with it; every
//   later stream uses it. When saving fails nothing is confirmed and the old secret stays in use
//   (fleetd accepts it until a confirmation, and rotates again on the next stream).
// - Any other end of a stream: reconnect after the backoff's next delay (backoff.h); but
//   UNAUTHENTICATED ends the connection with that status (the agent must enroll again).
// - Actions (action_handler.h): an AgentAction whose id is new goes to the handler, whose first
//   status is recorded (action_ledger.h) and sent; one seen before, on this stream or an earlier
//   one, is answered with its recorded status and not run again. An ActionCancel of a running
//   action goes to the handler; of a finished one it is answered with the final state; of one
//   never received it is ignored. Later statuses (ReportAction) are recorded, and sent when a
//   stream is open; none is ever sent for an action not received, nor after a final state.
//   Without a handler every action is REJECTED.
// - Live queries (query_handler.h): an AgentQuery is open on its stream until a result with
//   `last` is sent, its deadline passes, or the stream ends; results go out only for open
//   queries. Without a handler, or beyond max_open_queries, a query is answered with an error.
// - Restart(version) (after an upgrade): half-close like a GoAway, reconnect at once, and every
//   later Hello carries the new agent_version.
// - Stop: cancel the stream and the timers; once the stream has ended, the connection ends OK.
#ifndef FLEETD_AGENT_CONNECTION_PROTOCOL_H_
#define FLEETD_AGENT_CONNECTION_PROTOCOL_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/random/bit_gen_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/action_handler.h"
#include "agent/action_ledger.h"
#include "agent/policy_applier.h"
#include "agent/query_handler.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "fleet/v1/agent.pb.h"

namespace fleet::agent {

// One PolicyUpdate and what the agent did with it.
struct UpdateEvent {
  const v1::PolicyUpdate& update;
  // What the applier made of it; `refused` updates were not applied (outcome.applied is false).
  const ApplyOutcome& outcome;
  // True when the `refuse` hook said no and the update was nacked without applying it.
  bool refused = false;
  // When the update was read off the stream, and when it was applied (or refused).
  absl::Time received_at;
  absl::Time applied_at;
};

// Hooks into one connection; each may be empty. They run inside the protocol's events, one at a
// time for one connection, with the connection's lock held: they must not block (on gRPC they
// hold up every stream of their completion queue) and must not call back into their connection.
struct AgentConnectionHooks {
  // Says whether to refuse an update without applying it (a simulated agent that cannot run the
  // policy): the agent then nacks it, keeping its last good policy.
  std::function<bool(const v1::PolicyUpdate&)> refuse;
  // Every update after it was answered (Ack or Nack queued, or dropped after a half-close).
  std::function<void(const UpdateEvent&)> on_update;
  // Each stream's Welcome: the server accepted the agent.
  std::function<void(const v1::Welcome&)> on_connected;
  // Each stream's end, with its status (OK when the server closed it cleanly, CANCELLED when
  // Stop() ended it), and only for streams that were opened.
  std::function<void(const absl::Status&)> on_disconnected;
  // Each new secret from the server, after the attempt to save it: OK when it was saved (and is
  // confirmed and used from now on), else why not.
  std::function<void(const absl::Status&)> on_credentials;
  // Each AgentAction of an id already received, answered from the record without running it.
  std::function<void(const v1::AgentAction&)> on_repeated_action;
};

struct ConnectionProtocolOptions {
  BackoffOptions backoff;
  // Sent once after each Welcome, when set.
  std::optional<v1::StatusReport> status_after_connect;
  // Shared by the agents of one simulator: each change is applied once per distinct state (see
  // PolicyApplier::Apply); null to apply every update afresh. Not owned; outlives the protocol.
  ApplyCache* apply_cache = nullptr;
  // Run the actions and queries fleetd sends; null: actions are REJECTED, queries answered with an
  // error. Not owned; outlive the protocol.
  ActionHandler* actions = nullptr;
  QueryHandler* queries = nullptr;
  // The agent software's version, sent in every Hello when not empty (agent.proto,
  // Hello.agent_version: at most 64 bytes); Restart() changes it.
  std::string agent_version;
  // Finished actions remembered by id to answer repeats (action_ledger.h).
  size_t finished_actions_kept = 256;
  // Queries open on one stream at most (those past their deadline not counted); one more is
  // answered with an error at once.
  size_t max_open_queries = 256;
};

// Thread-compatible: the owner serializes the events (AgentConnection holds its lock around
// each). Start once; every Transport::Connect is answered by at most one OnStreamStarted and then
// exactly one OnStreamEnded, and messages come only in between.
class ConnectionProtocol {
 public:
  enum class Timer { kHeartbeat, kReconnect };

  // What the protocol asks of its transport. Called from inside the protocol's events; an
  // implementation must not call back into the protocol from them (it reports what happens as
  // later events).
  class Transport {
   public:
    // Opens a stream: OnStreamStarted once it is open (never if it fails to open), then
    // OnMessage for each server message, then OnStreamEnded.
    virtual void Connect() = 0;
    // Queues `message` on the open stream, behind those not yet written.
    virtual void Send(v1::AgentMessage message) = 0;
    // Half-closes the open stream once the queued messages are written.
    virtual void CloseSend() = 0;
    // Ends the open stream or the attempt to open it; OnStreamEnded follows.
    virtual void CancelStream() = 0;
    // Arms `timer` to fire at `at` (by the protocol's clock): OnTimer(timer) follows at or after
    // `at`, unless CancelTimer(timer) comes first. The timer is not armed when this is called.
    virtual void SetTimer(Timer timer, absl::Time at) = 0;
    // Disarms `timer`: no OnTimer(timer) follows for it.
    virtual void CancelTimer(Timer timer) = 0;
    // The connection is over with `status`; nothing more is asked and no events are expected.
    virtual void Finished(const absl::Status& status) = 0;
    // Saves `agent_secret` as the agent's secret, durably, and opens every later stream with it;
    // on failure the old secret stays in use. May block for one durable write (a rotation is
    // rare: once per operator's request or credential maximum age).
    virtual absl::Status SaveSecret(const std::string& agent_secret) = 0;

   protected:
    ~Transport() = default;
  };

  // `transport`, `clock` and `rng` are not owned and must outlive the protocol. `applier` is the
  // agent's last good policy; the first Hello says what it holds.
  ConnectionProtocol(Transport& transport, Clock& clock, absl::BitGenRef rng, PolicyApplier applier,
                     AgentConnectionHooks hooks, ConnectionProtocolOptions options);
  ConnectionProtocol(const ConnectionProtocol&) = delete;
  ConnectionProtocol& operator=(const ConnectionProtocol&) = delete;

  // Opens the first stream; nothing after Stop().
  void Start();
  // Ends the connection: cancels the timers, and the stream if one is open or opening (the
  // connection then finishes when it has ended). Idempotent.
  void Stop();

  void OnStreamStarted();
  void OnMessage(const v1::ServerMessage& message);
  // `status` is the stream's: the server's, CANCELLED after CancelStream, or what the transport
  // saw.
  void OnStreamEnded(const absl::Status& status);
  // Only for a timer that is armed; others are ignored.
  void OnTimer(Timer timer);

  // What handlers say after they returned; the results and contracts of AgentOutbox
  // (agent_outbox.h). Never from inside the protocol's own events.
  [[nodiscard]] absl::Status ReportAction(v1::ActionStatus status);
  [[nodiscard]] absl::Status SendQueryResult(v1::QueryResult result);
  void Restart(std::string agent_version);

  // Finished() was called.
  bool finished() const { return state_ == State::kFinished; }
  // The last good policy.
  const PolicyApplier& applier() const { return applier_; }
  // The actions received, and where each is.
  const ActionLedger& actions() const { return actions_; }
  // Queries open on the stream now.
  size_t open_queries() const { return open_queries_.size(); }

 private:
  enum class State {
    kIdle,
    // Connect() asked for, the stream not open yet.
    kConnecting,
    kStreaming,
    // Between streams, with the reconnect timer armed.
    kWaiting,
    kFinished,
  };

  void OnWelcome(const v1::Welcome& welcome);
  void OnPolicyUpdate(const v1::PolicyUpdate& update);
  void OnGoAway(const v1::GoAway& go_away);
  void OnCredentials(const v1::Credentials& credentials);
  void OnAction(const v1::AgentAction& action);
  void OnActionCancel(const v1::ActionCancel& cancel);
  void OnQuery(const v1::AgentQuery& query);
  // Records a handler's answer for action `id` and sends what was recorded.
  void RecordHandlerStatus(const std::string& id, v1::ActionStatus status, bool first);
  // Sends `result` of open query `id` (the id set), closing the query when it is the last.
  void SendResult(const std::string& id, v1::QueryResult result);
  void SendActionStatus(const v1::ActionStatus& status);
  // Sends on an open stream that is not half-closed; drops the message otherwise.
  void Send(v1::AgentMessage message);
  void ArmHeartbeat();
  void CancelHeartbeat();
  void Finish(const absl::Status& status);

  Transport& transport_;  // not owned
  Clock& clock_;          // not owned
  absl::BitGenRef rng_;   // not owned
  const AgentConnectionHooks hooks_;
  const ConnectionProtocolOptions options_;
  PolicyApplier applier_;
  Backoff backoff_;

  State state_ = State::kIdle;
  bool stopping_ = false;
  // The open stream's: Welcome's heartbeat interval (zero before it, or for none), whether the
  // heartbeat timer is armed, whether CloseSend was asked for, and GoAway's delay.
  absl::Duration heartbeat_interval_;
  bool heartbeat_armed_ = false;
  bool send_closed_ = false;
  std::optional<absl::Duration> go_away_after_;
  // Sent in Hello when not empty.
  std::string agent_version_;
  ActionLedger actions_;
  // The open stream's queries not answered with `last` yet, by id, with their deadlines.
  absl::flat_hash_map<std::string, absl::Time> open_queries_;
};

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_CONNECTION_PROTOCOL_H_
