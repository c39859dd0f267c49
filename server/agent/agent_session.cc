#include "server/agent/agent_session.h"

#include <grpcpp/impl/codegen/proto_utils.h>

#include <utility>

#include "absl/hash/hash.h"
#include "fleet/v1/agent.pb.h"
#include "rpc/grpc_status.h"
#include "server/agent/agent_hub.h"

namespace fleet::server {

AgentSession::AgentSession(const AgentSessionDeps& deps, std::unique_ptr<rpc::AcceptedCall> call,
                           std::string agent_id, std::string policy, StreamCredentials credentials)
    : rpc::AsyncServerStream(std::move(call)),
      hub_(deps.hub),
      credentials_(deps.credentials),
      agent_id_(agent_id),
      connection_(absl::Hash<std::string>{}(context().peer())),
      protocol_(deps.protocol, std::move(agent_id), std::move(policy), std::move(credentials)) {}

void AgentSession::Start(const AgentSessionDeps& deps, std::unique_ptr<rpc::AcceptedCall> call,
                         std::string agent_id, std::string policy, StreamCredentials credentials) {
  std::shared_ptr<AgentSession> session(
      new AgentSession(deps, std::move(call), std::move(agent_id), policy, std::move(credentials)));
  {
    absl::MutexLock lock(&session->mu_);
    session->self_ = session;
  }
  deps.hub.Register(session, policy);
  session->StartRead(&session->read_buffer_);
}

void AgentSession::Kick() { Perform(protocol_.OnPolicyChanged()); }

void AgentSession::Reassign(const std::string& policy) { Perform(protocol_.OnReassigned(policy)); }

void AgentSession::Unenrolled() { Perform(protocol_.OnUnenrolled()); }

void AgentSession::Replaced() { Perform(protocol_.OnReplaced()); }

void AgentSession::GoAway() { Perform(protocol_.OnShutdown()); }

void AgentSession::RotateCredentials() { Perform(protocol_.OnRotationRequested()); }

void AgentSession::Perform(AgentProtocol::Action action) {
  if (action.credentials.has_value()) {
    // The writer reports on its own thread; the session stays alive until it has.
    credentials_.Commit(
        *std::move(action.credentials),
        [self = shared_from_this()](const absl::Status& status, bool rotation_requested) {
          self->Perform(self->protocol_.OnCredentialsCommitted(status, rotation_requested));
        });
  }
  switch (action.kind) {
    case AgentProtocol::Action::Kind::kWrite: {
      write_bytes_ = std::move(action.bytes);
      grpc::Slice slice(write_bytes_->data(), write_bytes_->size(), grpc::Slice::STATIC_SLICE);
      write_buffer_ = grpc::ByteBuffer(&slice, 1);
      StartWrite(&write_buffer_);
      break;
    }
    case AgentProtocol::Action::Kind::kFinish:
      Finish(rpc::ToGrpcStatus(action.status));
      break;
    case AgentProtocol::Action::Kind::kNone:
      break;
  }
}

void AgentSession::OnWriteDone(bool ok) {
  // Released before the protocol hears of it: the next write may start on another thread.
  write_buffer_.Clear();
  write_bytes_.reset();
  Perform(protocol_.OnWriteDone(ok));
}

void AgentSession::OnReadDone(bool ok) {
  if (!ok) {
    Perform(protocol_.OnAgentClosed());
    return;
  }
  v1::AgentMessage message;
  const bool parsed =
      grpc::SerializationTraits<v1::AgentMessage>::Deserialize(&read_buffer_, &message).ok();
  AgentProtocol::ReadOutcome outcome =
      parsed ? protocol_.OnMessage(message) : protocol_.OnUnreadableMessage();
  if (outcome.read_next) StartRead(&read_buffer_);
  Perform(std::move(outcome.action));
}

void AgentSession::OnDone() {
  // A replaced session must not mark offline the agent its successor serves.
  protocol_.OnEnded(/*current=*/hub_.Unregister(*this));
  std::shared_ptr<AgentSession> self;
  {
    absl::MutexLock lock(&mu_);
    self = std::move(self_);
  }
  // `self` may be the last reference: this object ends here.
}

}  // namespace fleet::server
