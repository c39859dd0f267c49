// One agent's Connect loop (agent.proto, "Life of an agent", steps 2 to 5): open the stream with
// the agent's credentials, say Hello, answer every PolicyUpdate with Ack or Nack, heartbeat, and
// reconnect with jittered exponential backoff when the stream ends, until asked to stop or until
// the server refuses the credentials.
//
// Threads: the loop runs on one thread (Start() makes it, or the caller's thread in Run()), and
// each open stream has one more thread that sends heartbeats, because the sync gRPC API blocks
// in Read. So N agents cost about 2N threads: fine for a few thousand agents on one machine (the
// simulator's 2,000 agents are 4,000 mostly sleeping threads); a later step moves to the callback
// API, where streams need no threads of their own.
#ifndef FLEETD_AGENT_SIM_AGENT_CONNECTION_H_
#define FLEETD_AGENT_SIM_AGENT_CONNECTION_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent-sim/backoff.h"
#include "agent-sim/identity_store.h"
#include "agent-sim/policy_applier.h"
#include "fleet/v1/agent.grpc.pb.h"

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

// Hooks into one connection; each may be empty. All run on the connection's loop thread, one at
// a time, so they must not block for long (they delay the stream).
struct AgentConnectionHooks {
  // Says whether to refuse an update without applying it (a simulated agent that cannot run the
  // policy): the agent then nacks it, keeping its last good policy.
  std::function<bool(const v1::PolicyUpdate&)> refuse;
  // Every update after it was answered (Ack or Nack sent, or the send failed).
  std::function<void(const UpdateEvent&)> on_update;
  // Each stream's Welcome: the server accepted the agent.
  std::function<void(const v1::Welcome&)> on_connected;
  // Each stream's end, with its status (OK when the server closed it cleanly, CANCELLED when
  // Stop() ended it), and only for streams that were opened.
  std::function<void(const absl::Status&)> on_disconnected;
};

struct AgentConnectionOptions {
  BackoffOptions backoff;
  // Sent once after each Welcome, when set.
  std::optional<v1::StatusReport> status_after_connect;
  // Seeds the jitter of the backoff and of GoAway delays.
  uint64_t seed = 1;
};

// Stop() is thread-safe; Start() and Join() belong to the owner. The applier and the hooks belong
// to the loop while it runs.
class AgentConnection {
 public:
  // `channel` is shared with other connections (gRPC multiplexes their streams over it); the
  // connection keeps a reference. `applier` is the agent's last good policy; Hello says what it
  // holds.
  AgentConnection(std::shared_ptr<grpc::Channel> channel, AgentIdentity identity,
                  PolicyApplier applier, AgentConnectionHooks hooks,
                  AgentConnectionOptions options = {});
  // Stops and joins.
  ~AgentConnection();
  AgentConnection(const AgentConnection&) = delete;
  AgentConnection& operator=(const AgentConnection&) = delete;

  // Runs the loop on the caller's thread until Stop() (returns OK) or until the server refuses
  // the credentials (returns UNAUTHENTICATED with the server's message: the agent must enroll
  // again). Call it at most once, and not together with Start().
  absl::Status Run();

  // Runs the loop on a new thread; its result is final_status() after Join(). At most once.
  void Start();

  // Asks the loop to end: cancels the open stream and wakes every wait. Returns at once; the
  // loop ends within about a second (the heartbeat thread's join is the longest wait).
  void Stop();

  // Waits for the thread Start() made; no-op without one.
  void Join();

  // What Run() returned, once the thread Start() made has ended; OK before.
  absl::Status final_status() const;

  // The applied policy; only meaningful when the loop is not running.
  const PolicyApplier& applier() const { return applier_; }

 private:
  struct StreamResult {
    // The stream delivered a message (the connection worked, the backoff starts over).
    bool delivered = false;
    // GoAway's reconnect_after, when the server said it.
    std::optional<absl::Duration> go_away_after;
    grpc::Status status;
  };
  using Stream = grpc::ClientReaderWriter<v1::AgentMessage, v1::ServerMessage>;
  // The writing half of one stream: writes are serialized, and none follows the half-close.
  struct WriteSide {
    absl::Mutex mu;
    bool closed ABSL_GUARDED_BY(mu) = false;
  };

  // One stream from open to Finish.
  StreamResult RunStream();
  // Reads until the stream ends; writes replies through `write_side`.
  // Starts `heartbeat` after the Welcome.
  void ReadLoop(Stream& stream, WriteSide& write_side, StreamResult& result,
                std::thread& heartbeat);
  // Answers one update.
  static bool Send(Stream& stream, WriteSide& write_side, const v1::AgentMessage& message);
  void HandleUpdate(const v1::PolicyUpdate& update, Stream& stream, WriteSide& write_side);
  // Sends Heartbeat every `interval` until `done` or Stop().
  void HeartbeatLoop(Stream& stream, WriteSide& write_side, absl::Duration interval);
  bool StreamEnded() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_ || stream_done_; }
  // Sleeps up to `delay`; false when Stop() came first.
  bool WaitBeforeReconnect(absl::Duration delay);

  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::AgentService::Stub> stub_;
  const AgentIdentity identity_;
  const AgentConnectionHooks hooks_;
  const AgentConnectionOptions options_;

  // Owned by the loop thread.
  PolicyApplier applier_;
  std::mt19937_64 rng_;
  Backoff backoff_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream's context, so that Stop() can cancel it; null between streams.
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;  // not owned: RunStream's
  // The open stream ended: its heartbeat thread returns.
  bool stream_done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

// The absl::Status for a gRPC status (same code and message).
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_SIM_AGENT_CONNECTION_H_
