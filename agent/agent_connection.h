// One agent's Connect loop (agent.proto, "Life of an agent", steps 2 to 5): open the stream with
// the agent's credentials, say Hello, answer every PolicyUpdate with Ack or Nack, heartbeat, and
// reconnect with jittered exponential backoff when the stream ends, until asked to stop or until
// the server refuses the credentials.
//
// Threads: none of its own. The stream runs on gRPC's async API on a completion queue of a
// rpc::CqPool (rpc/cq_pool.h says why not the callback API), and heartbeats and reconnect waits are
// gRPC alarms on that queue, so everything runs on the pool's threads and 100,000 connections in
// one process cost memory, not threads. One stream has at most one read and one write in flight;
// replies and heartbeats queue behind the write in flight.
#ifndef FLEETD_AGENT_AGENT_CONNECTION_H_
#define FLEETD_AGENT_AGENT_CONNECTION_H_

#include <grpcpp/alarm.h>
#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "agent/identity_store.h"
#include "agent/policy_applier.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "rpc/cq_pool.h"

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

// Hooks into one connection; each may be empty. They run on the completion queue's thread, one at
// a time for one connection, so they must not block (they hold up every stream of that queue).
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
  // Shared by the agents of one simulator: each change is applied once per distinct state (see
  // PolicyApplier::Apply); null to apply every update afresh.
  ApplyCache* apply_cache = nullptr;
  // The completion queue the connection runs on (it must outlive the connection and be drained
  // by a thread, as rpc::CqPool's are); null for a small pool shared by the process.
  grpc::CompletionQueue* queue = nullptr;
};

// Stop() is thread-safe; Start() and Join() belong to the owner. The applier and the hooks belong
// to the connection while it runs.
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

  // Start(), then Join(); returns final_status(). Call it at most once, and not with Start().
  absl::Status Run();

  // Opens the first stream and returns; the connection then lives on gRPC's callback threads
  // until Stop(), or until the server refuses the credentials. At most once.
  void Start();

  // Asks the connection to end: cancels the open stream or the pending reconnect. Returns at
  // once; Join() waits for the end.
  void Stop();

  // Waits until the connection has ended (after Stop(), or after the server refused the
  // credentials); returns at once when it never started.
  void Join();

  // How the connection ended: OK after Stop(), UNAUTHENTICATED with the server's message when it
  // refused the credentials (the agent must enroll again). OK while it runs.
  absl::Status final_status() const;

  // The applied policy; only meaningful when the connection is not running.
  const PolicyApplier& applier() const { return applier_; }

 private:
  // One Connect stream, from open to OnDone; deletes itself through StreamEnded().
  class Stream;
  // What one stream left behind.
  struct StreamResult {
    // The stream delivered a message (the connection worked, the backoff starts over).
    bool delivered = false;
    // GoAway's reconnect_after, when the server said it.
    std::optional<absl::Duration> go_away_after;
    grpc::Status status;
  };

  // The reconnect alarm's tag.
  class ReconnectTag final : public rpc::CqTag {
   public:
    explicit ReconnectTag(AgentConnection& connection) : connection_(connection) {}
    void Done(bool fired) override { connection_.OnReconnectAlarm(fired); }

   private:
    AgentConnection& connection_;
  };

  // Opens a new stream unless Stop() came first (then the connection ends).
  void OpenStream();
  void OnReconnectAlarm(bool fired);
  // Called by the stream's OnDone: runs on_disconnected, frees the stream, and ends the
  // connection or schedules the next stream.
  void StreamEnded(Stream* stream, const StreamResult& result);
  // Marks the connection ended with `status` and wakes Join().
  void Finish(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<v1::AgentService::Stub> stub_;
  const AgentIdentity identity_;
  const AgentConnectionHooks hooks_;
  const AgentConnectionOptions options_;
  grpc::CompletionQueue* const queue_;

  // Used by one stream at a time, on its callbacks, and between streams by StreamEnded().
  PolicyApplier applier_;
  std::mt19937_64 rng_;
  Backoff backoff_;

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  // The open stream, so that Stop() can cancel it; null between streams.
  Stream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The wait before the next stream; armed between streams.
  grpc::Alarm reconnect_alarm_ ABSL_GUARDED_BY(mu_);
  ReconnectTag reconnect_tag_{*this};
  bool reconnect_pending_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status final_status_ ABSL_GUARDED_BY(mu_);
};

// The absl::Status for a gRPC status (same code and message).
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_AGENT_CONNECTION_H_
