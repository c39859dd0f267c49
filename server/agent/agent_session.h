// One agent's Connect stream (agent.proto): the reactor that reads the agent's messages and
// writes the server's, following the protocol's rules: Hello first; at most one unacknowledged
// policy update in flight, the next one always to the newest revision (changes that piled up
// coalesce); one write in flight; a Nack keeps the agent where it is (a FULL document follows
// when the agent asks for one). Updates come from the PolicyEngine as bytes serialized once for
// every stream that needs them.
//
// Lifetime: created by AgentService for an accepted Connect call, owned by itself (and briefly by
// whoever holds a shared_ptr to kick it) until OnDone.
#ifndef FLEETD_SERVER_AGENT_AGENT_SESSION_H_
#define FLEETD_SERVER_AGENT_AGENT_SESSION_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/byte_buffer.h>

#include <deque>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "fleet/v1/agent.pb.h"
#include "rpc/async_server_stream.h"
#include "server/control/agent_state.h"
#include "server/control/policy_engine.h"

namespace fleet::server {

class AgentHub;

// What every session needs; all of it outlives every session.
struct AgentSessionDeps {
  PolicyEngine& engine;
  AgentHub& hub;
  AgentStateTracker& state;
  absl::Duration heartbeat_interval;
};

// Thread-safe: gRPC reactions and the hub's calls may come from any thread.
class AgentSession final : public rpc::AsyncServerStream,
                           public std::enable_shared_from_this<AgentSession> {
 public:
  // Starts serving `call`, from an authenticated agent assigned to `policy`; registers with the
  // hub. The session owns itself until OnDone.
  static void Start(const AgentSessionDeps& deps, std::unique_ptr<rpc::AcceptedCall> call,
                    std::string agent_id, std::string policy);

  const std::string& agent_id() const { return agent_id_; }

  // The agent's policy has a new latest revision: send it when the stream is free.
  void Kick();
  // The agent was moved to `policy`: it gets that policy's document next.
  void Reassign(const std::string& policy);
  // The agent was unenrolled: its state is dropped and the stream ends with UNAUTHENTICATED.
  void Unenrolled();
  // Ends the stream with `status` after the write in flight, if any. With `go_away`, tells the
  // agent to go away instead and lets it close the stream (answers in flight still land).
  void Close(const grpc::Status& status, bool go_away);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  AgentSession(const AgentSessionDeps& deps, std::unique_ptr<rpc::AcceptedCall> call,
               std::string agent_id, std::string policy);

  // Handles one message from the agent; an error ends the stream with it.
  grpc::Status Handle(const v1::AgentMessage& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  grpc::Status HandleAnswer(int64_t revision, bool acked, const std::string& sha256,
                            const std::string& reason, bool needs_full)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // What to do to the stream once mu_ is released: gRPC may run reactions inline, and they take
  // mu_.
  struct StreamOp {
    enum class Kind { kNone, kWrite, kFinish };
    Kind kind = Kind::kNone;
    grpc::Status status;
  };
  void Perform(const StreamOp& op);

  // Starts the next write if none is in flight: queued control messages first, then the policy
  // update the agent needs, if any and if none is unacknowledged.
  void MaybeWrite();
  // The queued control message, or the Finish that Close asked for, if the stream is idle.
  StreamOp NextControl() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Claims the stream for writing `bytes`, kept alive by `owner` until the write is done.
  StreamOp PrepareWrite(std::shared_ptr<const void> owner, const std::string& bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StreamOp PrepareFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Queue(const v1::ServerMessage& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const AgentSessionDeps deps_;
  const std::string agent_id_;

  absl::Mutex mu_;
  std::string policy_ ABSL_GUARDED_BY(mu_);
  bool hello_ ABSL_GUARDED_BY(mu_) = false;
  AgentPosition position_ ABSL_GUARDED_BY(mu_);
  // The revision sent and not yet acked or nacked (0: none), and what was sent for it.
  int64_t unacked_ ABSL_GUARDED_BY(mu_) = 0;
  std::string unacked_sha256_ ABSL_GUARDED_BY(mu_);
  bool unacked_full_ ABSL_GUARDED_BY(mu_) = false;
  // An update of the previous policy still in flight when the agent was reassigned (0: none).
  int64_t abandoned_ ABSL_GUARDED_BY(mu_) = 0;
  // The newest revision the agent refused; not sent again unless it asks for a FULL document.
  int64_t refused_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::string> control_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Keeps the bytes of the write in flight alive (they may be a shared update).
  std::shared_ptr<const void> write_owner_ ABSL_GUARDED_BY(mu_);
  // Belongs to the write in flight: set by whoever set writing_, read by gRPC until OnWriteDone.
  grpc::ByteBuffer write_buffer_;
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);  // Close asked for this
  bool going_away_ ABSL_GUARDED_BY(mu_) = false;             // GoAway queued: no more updates
  bool broken_ ABSL_GUARDED_BY(mu_) = false;                 // a write failed: only Finish is left
  bool unenrolled_ ABSL_GUARDED_BY(mu_) = false;
  // Bumped whenever what the next update depends on changes (policy, position, update in
  // flight), so that an update computed outside the lock is dropped if it went stale.
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;               // Finish was called
  grpc::ByteBuffer read_buffer_;                             // used by the one read in flight only
  std::shared_ptr<AgentSession> self_ ABSL_GUARDED_BY(mu_);  // released in OnDone
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_AGENT_SESSION_H_
