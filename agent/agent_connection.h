// One agent's Connect loop (agent.proto, "Life of an agent", steps 2 to 5) over gRPC: the rules
// are ConnectionProtocol's (connection_protocol.h: Hello, Ack or Nack, heartbeats, GoAway,
// reconnect with jittered exponential backoff, until asked to stop or until the server refuses
// the credentials); this class carries them: it opens the streams with the agent's credentials,
// moves the messages and runs the protocol's timers. Actions and live queries go to the handlers
// in the options (action_handler.h, query_handler.h), which answer later through the connection
// as an AgentOutbox (agent_outbox.h).
//
// Threads: none of its own. The stream is an rpc::AsyncClientStream on a completion queue of a
// rpc::CqPool (rpc/cq_pool.h says why not the callback API), and the protocol's timers are gRPC
// alarms on that queue (or tasks of a TaskScheduler given in the options), so everything runs on
// the pool's threads and 100,000 connections in one process cost memory, not threads. One stream
// has at most one read and one write in flight; replies and heartbeats queue behind the write in
// flight.
#ifndef FLEETD_AGENT_AGENT_CONNECTION_H_
#define FLEETD_AGENT_AGENT_CONNECTION_H_

#include <grpcpp/alarm.h>
#include <grpcpp/channel.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/agent_outbox.h"
#include "agent/connection_protocol.h"
#include "agent/identity_store.h"
#include "agent/policy_applier.h"
#include "agent/task_scheduler.h"
#include "fleet/v1/agent.pb.h"
#include "rpc/cq_pool.h"

namespace fleet::agent {

struct AgentConnectionOptions {
  ConnectionProtocolOptions protocol;
  // Seeds the jitter of the backoff and of GoAway delays.
  uint64_t seed = 1;
  // The completion queue the connection runs on (it must outlive the connection and be drained
  // by a thread, as rpc::CqPool's are); null for a small pool shared by the process.
  grpc::CompletionQueue* queue = nullptr;
  // Saves the agent's identity durably when the server rotates its secret (e.g. with
  // IdentityStore::Save); runs on the queue's thread with the connection's lock held. Null: the
  // new secret is kept in memory only, and a restarted agent would hold a secret fleetd no
  // longer accepts, so anything that restarts must set it.
  std::function<absl::Status(const AgentIdentity&)> save_identity;
  // Runs the protocol's timers (heartbeat, reconnect) instead of gRPC alarms; not owned, may be
  // stopped before the connection ends but must outlive it, and must never run a task inside
  // At() (the connection's lock is held there). Null: gRPC alarms on the queue. A
  // process with many connections (agent-sim) sets it: every connection would hold a pending
  // alarm, and gRPC's cost per timer added or cancelled grows with the timers pending.
  TaskScheduler* timers = nullptr;
};

// Stop() and the AgentOutbox methods are thread-safe; Start() and Join() belong to the owner. The
// applier and the hooks belong to the connection while it runs; the hooks and the handlers run on
// the queue's thread with the connection's lock held (see AgentConnectionHooks), so they must not
// call the AgentOutbox methods (a deadlock): those are for other threads.
class AgentConnection final : public AgentOutbox, private ConnectionProtocol::Transport {
 public:
  // `channel` is shared with other connections (gRPC multiplexes their streams over it); the
  // connection keeps a reference. `applier` is the agent's last good policy; Hello says what it
  // holds. A stream to the one server waits for its channel while the server is away.
  AgentConnection(std::shared_ptr<grpc::Channel> channel, AgentIdentity identity,
                  PolicyApplier applier, AgentConnectionHooks hooks,
                  AgentConnectionOptions options = {});
  // The same with several servers (replicas of one fleet), a channel to each, at least one: the
  // first stream goes to servers[0]; when a stream fails for want of its server (UNAVAILABLE,
  // DEADLINE_EXCEEDED, UNKNOWN, INTERNAL, RESOURCE_EXHAUSTED), the next one goes to the next
  // server, round the list, after the protocol's backoff. Streams then fail at once while their
  // server cannot be reached rather than wait for it.
  AgentConnection(std::vector<std::shared_ptr<grpc::Channel>> servers, AgentIdentity identity,
                  PolicyApplier applier, AgentConnectionHooks hooks,
                  AgentConnectionOptions options = {});
  // Stops and joins.
  ~AgentConnection();
  AgentConnection(const AgentConnection&) = delete;
  AgentConnection& operator=(const AgentConnection&) = delete;

  // Start(), then Join(); returns final_status(). Call it at most once, and not with Start().
  absl::Status Run();

  // Opens the first stream and returns; the connection then lives on the queue's thread until
  // Stop(), or until the server refuses the credentials. At most once.
  void Start();

  // Asks the connection to end: cancels the open stream or the pending reconnect. Returns at
  // once; Join() waits for the end.
  void Stop();

  // Waits until the connection has ended (after Stop(), or after the server refused the
  // credentials) and nothing of it is left on the queue; returns at once when it never started.
  void Join();

  // How the connection ended: OK after Stop(), UNAUTHENTICATED with the server's message when it
  // refused the credentials (the agent must enroll again). OK while it runs.
  absl::Status final_status() const;

  // The applied policy; only meaningful when the connection is not running.
  const PolicyApplier& applier() const;

  // The identity the next stream opens with (its secret rotated, if the server rotated it).
  AgentIdentity identity() const;

  // AgentOutbox (agent_outbox.h): the results and contracts are ConnectionProtocol's.
  [[nodiscard]] absl::Status ReportAction(v1::ActionStatus status) override;
  [[nodiscard]] absl::Status SendQueryResult(v1::QueryResult result) override;
  void Restart(std::string agent_version) override;

 private:
  // One Connect stream, from StartCall to OnDone; owned by stream_, freed when it is done.
  class Stream;
  using Timer = ConnectionProtocol::Timer;
  // The alarm behind one of the protocol's timers.
  struct TimerSlot {
    class Tag final : public rpc::CqTag {
     public:
      Tag(AgentConnection& connection, Timer timer) : connection_(connection), timer_(timer) {}
      void Done(bool fired) override { connection_.OnAlarm(timer_, fired); }

     private:
      AgentConnection& connection_;
      const Timer timer_;
    };

    TimerSlot(AgentConnection& connection, Timer timer) : tag(connection, timer) {}

    grpc::Alarm alarm;
    Tag tag;
    // The alarm is set and its tag has not come back.
    bool in_flight = false;
    // The protocol's timer is armed, to fire at `at`.
    bool armed = false;
    // It was armed again while the alarm was in flight: set the alarm anew once the tag is back.
    bool rearm = false;
    absl::Time at;
    // With a TaskScheduler: counts the arms and cancels, so that a task of an earlier one is a
    // no-op.
    uint64_t generation = 0;
  };
  // What a TaskScheduler's tasks reach the connection through: the destructor clears it (under
  // its lock, which a task holds while it runs), so no task runs into a connection gone.
  struct TimerHost {
    absl::Mutex mu;
    AgentConnection* connection ABSL_GUARDED_BY(mu);
  };

  // ConnectionProtocol::Transport, called by protocol_ with mu_ held.
  void Connect() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Send(v1::AgentMessage message) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseSend() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelStream() override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetTimer(Timer timer, absl::Time at) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelTimer(Timer timer) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Finished(const absl::Status& status) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status SaveSecret(const std::string& agent_secret) override
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The stream's callbacks.
  void OnStreamStarted(bool ok);
  void OnStreamRead(bool ok);
  void OnStreamWritten(bool ok);
  // Frees the stream and tells the protocol.
  void OnStreamDone(const grpc::Status& status);
  void OnAlarm(Timer timer, bool fired);
  // A TaskScheduler task of the arm numbered `generation`.
  void OnScheduled(Timer timer, uint64_t generation);

  void StartWrite(const v1::AgentMessage& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetAlarm(TimerSlot& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  TimerSlot& SlotOf(Timer timer) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Wakes Join() once the protocol has finished and nothing of the connection is on the queue.
  void MaybeDone() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<std::shared_ptr<grpc::Channel>> servers_;  // never empty
  // One per server, in the same order.
  std::vector<std::unique_ptr<grpc::GenericStub>> stubs_;
  grpc::CompletionQueue* const queue_;
  const std::function<absl::Status(const AgentIdentity&)> save_identity_;
  TaskScheduler* const timers_;  // not owned; may be null
  const std::shared_ptr<TimerHost> timer_host_;
  std::mt19937_64 rng_;

  mutable absl::Mutex mu_;
  // The secret changes when the server rotates it; each stream opens with the current one.
  AgentIdentity identity_ ABSL_GUARDED_BY(mu_);
  ConnectionProtocol protocol_ ABSL_GUARDED_BY(mu_);
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // the protocol said Finished
  bool done_ ABSL_GUARDED_BY(mu_) = false;      // ... and nothing is left on the queue
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);

  // The open stream (or the one opening); null between streams.
  std::unique_ptr<Stream> stream_ ABSL_GUARDED_BY(mu_);
  // The server the next stream goes to (an index into servers_).
  size_t server_ ABSL_GUARDED_BY(mu_) = 0;
  // The open stream's reads: the one read in flight fills read_buffer_, parsed into incoming_.
  grpc::ByteBuffer read_buffer_;
  v1::ServerMessage incoming_ ABSL_GUARDED_BY(mu_);
  // Its writes: the one in flight is in write_buffer_; the rest wait in queued_.
  grpc::ByteBuffer write_buffer_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::AgentMessage> queued_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // The protocol asked for the half-close (it starts once the queue is written).
  bool close_send_ ABSL_GUARDED_BY(mu_) = false;
  // The half-close started, or a write failed: nothing more is written.
  bool write_side_closed_ ABSL_GUARDED_BY(mu_) = false;

  TimerSlot heartbeat_ ABSL_GUARDED_BY(mu_){*this, Timer::kHeartbeat};
  TimerSlot reconnect_ ABSL_GUARDED_BY(mu_){*this, Timer::kReconnect};
};

// The absl::Status for a gRPC status (same code and message).
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_AGENT_CONNECTION_H_
