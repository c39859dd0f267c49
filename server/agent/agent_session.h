// One agent's Connect stream (agent.proto) over gRPC: the transport of an AgentProtocol
// (agent_protocol.h), which holds every rule. The session owns the call, keeps one read and at
// most one write in flight, hands the protocol what happened and does what it decides, outside
// any lock (gRPC may run reactions inline).
//
// Lifetime: created by AgentService for an accepted Connect call, owned by itself (and briefly by
// whoever holds a shared_ptr to kick it) until OnDone.
#ifndef FLEETD_SERVER_AGENT_AGENT_SESSION_H_
#define FLEETD_SERVER_AGENT_AGENT_SESSION_H_

#include <grpcpp/support/byte_buffer.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rpc/async_server_stream.h"
#include "server/agent/agent_protocol.h"

namespace fleet::server {

class AgentHub;

// What every session needs; all of it outlives every session.
struct AgentSessionDeps {
  AgentProtocolDeps protocol;
  AgentHub& hub;
  CredentialWriter& credentials;
};

// Thread-safe: gRPC reactions and the hub's calls may come from any thread.
class AgentSession final : public rpc::AsyncServerStream,
                           public std::enable_shared_from_this<AgentSession> {
 public:
  // Starts serving `call`, from an agent authenticated with `credentials` and assigned to
  // `policy`; registers with the hub. The session owns itself until OnDone (and a credential
  // commit in flight holds it until it is reported).
  static void Start(const AgentSessionDeps& deps, std::unique_ptr<rpc::AcceptedCall> call,
                    std::string agent_id, std::string policy, StreamCredentials credentials);

  const std::string& agent_id() const { return agent_id_; }
  // Which connection the stream rides on, as a hash of the peer's address (a process playing many
  // agents, as agent-sim does, multiplexes them on a few): the hub kicks the streams of one
  // connection side by side.
  size_t connection() const { return connection_; }

  // The protocol's server events (agent_protocol.h): the agent's policy has a new latest
  // revision; the agent was moved to `policy`; it was unenrolled; a newer stream of it took
  // over; the server is shutting down; an operator asked for a new secret.
  void Kick();
  void Reassign(const std::string& policy);
  void Unenrolled();
  void Replaced();
  void GoAway();
  void RotateCredentials();

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  AgentSession(const AgentSessionDeps& deps, std::unique_ptr<rpc::AcceptedCall> call,
               std::string agent_id, std::string policy, StreamCredentials credentials);

  // Starts the credential commit, and the write or the Finish, the protocol decided on, if any.
  void Perform(AgentProtocol::Action action);

  AgentHub& hub_;
  CredentialWriter& credentials_;
  const std::string agent_id_;
  const size_t connection_;
  AgentProtocol protocol_;
  // Belong to the write in flight (the protocol grants one at a time): set by whoever got the
  // kWrite, read by gRPC until OnWriteDone. `write_bytes_` keeps the buffer's bytes alive.
  std::shared_ptr<const std::string> write_bytes_;
  grpc::ByteBuffer write_buffer_;
  grpc::ByteBuffer read_buffer_;  // used by the one read in flight only
  absl::Mutex mu_;
  std::shared_ptr<AgentSession> self_ ABSL_GUARDED_BY(mu_);  // released in OnDone
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_AGENT_SESSION_H_
