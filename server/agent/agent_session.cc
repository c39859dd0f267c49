#include "server/agent/agent_session.h"

#include <grpcpp/impl/codegen/proto_utils.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "server/agent/agent_hub.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::Duration kReconnectAfter = absl::Seconds(1);

grpc::Status Invalid(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}

}  // namespace

AgentSession::AgentSession(const AgentSessionDeps& deps, std::unique_ptr<rpc::AcceptedCall> call,
                           std::string agent_id, std::string policy)
    : rpc::AsyncServerStream(std::move(call)),
      deps_(deps),
      agent_id_(std::move(agent_id)),
      policy_(std::move(policy)) {}

void AgentSession::Start(const AgentSessionDeps& deps, std::unique_ptr<rpc::AcceptedCall> call,
                         std::string agent_id, std::string policy) {
  std::shared_ptr<AgentSession> session(
      new AgentSession(deps, std::move(call), std::move(agent_id), policy));
  {
    absl::MutexLock lock(&session->mu_);
    session->self_ = session;
  }
  deps.hub.Register(session, policy);
  session->StartRead(&session->read_buffer_);
}

void AgentSession::Kick() { MaybeWrite(); }

void AgentSession::Reassign(const std::string& policy) {
  {
    absl::MutexLock lock(&mu_);
    if (policy_ == policy) return;
    policy_ = policy;
    // Whatever was in flight belongs to the old policy: the next update is the new one's, and
    // the agent's answer to the old one is dropped when it comes.
    if (unacked_ != 0) abandoned_ = unacked_;
    unacked_ = 0;
    ++generation_;
    refused_ = 0;
  }
  MaybeWrite();
}

void AgentSession::Unenrolled() {
  {
    absl::MutexLock lock(&mu_);
    unenrolled_ = true;
  }
  Close(grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "the agent was unenrolled"),
        /*go_away=*/false);
}

void AgentSession::Close(const grpc::Status& status, bool go_away) {
  StreamOp op;
  {
    absl::MutexLock lock(&mu_);
    if (finish_.has_value() || finished_ || going_away_) return;
    if (go_away) {
      // The agent closes its side when it hears this, so acks already on their way still land;
      // the server's shutdown deadline ends the streams of agents that do not.
      v1::ServerMessage message;
      message.mutable_go_away()->set_reason(status.error_message());
      *message.mutable_go_away()->mutable_reconnect_after() =
          TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(kReconnectAfter));
      Queue(message);
      going_away_ = true;
    } else {
      finish_ = status;
    }
    op = NextControl();
  }
  Perform(op);
}

void AgentSession::Queue(const v1::ServerMessage& message) {
  control_.push_back(message.SerializeAsString());
}

AgentSession::StreamOp AgentSession::NextControl() {
  if (finished_ || writing_) return {};
  if (broken_) return finish_.has_value() ? PrepareFinish() : StreamOp{};
  if (!control_.empty()) {
    auto bytes = std::make_shared<const std::string>(std::move(control_.front()));
    control_.pop_front();
    return PrepareWrite(bytes, *bytes);
  }
  if (finish_.has_value()) return PrepareFinish();
  return {};
}

AgentSession::StreamOp AgentSession::PrepareWrite(std::shared_ptr<const void> owner,
                                                  const std::string& bytes) {
  write_owner_ = std::move(owner);
  grpc::Slice slice(bytes.data(), bytes.size(), grpc::Slice::STATIC_SLICE);
  write_buffer_ = grpc::ByteBuffer(&slice, 1);
  writing_ = true;
  return {.kind = StreamOp::Kind::kWrite};
}

AgentSession::StreamOp AgentSession::PrepareFinish() {
  if (finished_) return {};
  finished_ = true;
  return {.kind = StreamOp::Kind::kFinish, .status = finish_.value_or(grpc::Status::OK)};
}

void AgentSession::Perform(const StreamOp& op) {
  switch (op.kind) {
    case StreamOp::Kind::kWrite:
      StartWrite(&write_buffer_);
      break;
    case StreamOp::Kind::kFinish:
      Finish(op.status);
      break;
    case StreamOp::Kind::kNone:
      break;
  }
}

void AgentSession::MaybeWrite() {
  std::string policy;
  AgentPosition position;
  StreamOp control;
  bool wants_update = false;
  int64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    generation = generation_;
    control = NextControl();
    wants_update = control.kind == StreamOp::Kind::kNone && !finished_ && !writing_ &&
                   !finish_.has_value() && !going_away_ && hello_ && unacked_ == 0;
    policy = policy_;
    position = position_;
  }
  if (!wants_update) {
    Perform(control);
    return;
  }
  // Outside the lock: the engine may read the store. The answer is checked against the state
  // again below, and a concurrent MaybeWrite simply finds the stream busy.
  absl::StatusOr<PreparedUpdatePtr> update = deps_.engine.UpdateFor(policy, position);
  if (!update.ok() || *update == nullptr) return;  // deleted policy, or nothing to send
  StreamOp op;
  {
    absl::MutexLock lock(&mu_);
    const v1::PolicyUpdate& next = (*update)->update;
    if (finished_ || writing_ || finish_.has_value() || going_away_ || broken_ ||
        generation != generation_) {
      return;  // busy, ending, or the update went stale: whoever changed things writes next
    }
    if (next.target_revision() == refused_ && !position_.needs_full) return;
    unacked_ = next.target_revision();
    unacked_sha256_ = next.sha256();
    unacked_full_ = next.kind() == v1::PolicyUpdate::FULL;
    ++generation_;
    op = PrepareWrite(*update, (*update)->serialized_message);
  }
  Perform(op);
}

void AgentSession::OnWriteDone(bool ok) {
  StreamOp op;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    write_owner_.reset();
    if (ok) {
      op = NextControl();
    } else {
      // The stream broke: nothing more can be written, only finished.
      broken_ = true;
      control_.clear();
      if (!finish_.has_value()) {
        finish_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "the stream broke");
      }
      op = PrepareFinish();
    }
  }
  if (!ok || op.kind != StreamOp::Kind::kNone) {
    Perform(op);
    return;
  }
  MaybeWrite();
}

void AgentSession::OnReadDone(bool ok) {
  StreamOp op;
  {
    absl::MutexLock lock(&mu_);
    grpc::Status error;
    if (ok) {
      v1::AgentMessage message;
      grpc::Status parsed =
          grpc::SerializationTraits<v1::AgentMessage>::Deserialize(&read_buffer_, &message);
      error = parsed.ok() ? Handle(message) : Invalid("unreadable AgentMessage");
    }
    if (!ok || !error.ok()) {
      // The agent closed its side, the stream broke, or the agent broke the protocol: end the
      // stream once the write in flight lands.
      if (!finish_.has_value()) finish_ = error;
      op = NextControl();
    }
  }
  if (op.kind != StreamOp::Kind::kNone || !ok) {
    Perform(op);
    return;
  }
  {
    absl::MutexLock lock(&mu_);
    if (finish_.has_value()) return;
  }
  StartRead(&read_buffer_);
  MaybeWrite();
}

grpc::Status AgentSession::Handle(const v1::AgentMessage& message) {
  if (message.has_hello() != !hello_) {
    return Invalid(hello_ ? "Hello may only open the stream" : "the stream must open with Hello");
  }
  switch (message.message_case()) {
    case v1::AgentMessage::kHello: {
      const v1::Hello& hello = message.hello();
      hello_ = true;
      position_ = AgentPosition{.policy = hello.policy(),
                                .revision = hello.applied_revision(),
                                .sha256 = hello.applied_sha256()};
      ++generation_;
      v1::ServerMessage welcome;
      *welcome.mutable_welcome()->mutable_heartbeat_interval() =
          TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(deps_.heartbeat_interval));
      welcome.mutable_welcome()->set_policy(policy_);
      Queue(welcome);
      const bool on_policy = hello.policy() == policy_;
      const std::string policy = policy_;
      deps_.state.Update(agent_id_, [&](record::AgentStatusRecord& state) {
        state.set_status(v1::AGENT_STATUS_ONLINE);
        state.set_policy(policy);
        state.set_applied_revision(on_policy ? hello.applied_revision() : 0);
        state.set_nacked_revision(0);
        state.clear_nack_reason();
      });
      return grpc::Status::OK;
    }
    case v1::AgentMessage::kAck:
      return HandleAnswer(message.ack().revision(), true, message.ack().sha256(), "", false);
    case v1::AgentMessage::kNack:
      return HandleAnswer(message.nack().revision(), false, "", message.nack().reason(),
                          message.nack().needs_full());
    case v1::AgentMessage::kStatus: {
      const v1::StatusReport& report = message.status();
      deps_.state.Update(agent_id_, [&](record::AgentStatusRecord& state) {
        state.set_health(static_cast<v1::AgentHealth>(report.health()));
        state.set_health_message(report.message().substr(0, 1024));
        *state.mutable_components() = report.components();
      });
      return grpc::Status::OK;
    }
    case v1::AgentMessage::kHeartbeat:
      deps_.state.Update(agent_id_, [](record::AgentStatusRecord&) {});
      return grpc::Status::OK;
    default:
      return Invalid("empty AgentMessage");
  }
}

grpc::Status AgentSession::HandleAnswer(int64_t revision, bool acked, const std::string& sha256,
                                        const std::string& reason, bool needs_full) {
  if (abandoned_ != 0 && revision == abandoned_ && revision != unacked_) {
    abandoned_ = 0;
    return grpc::Status::OK;
  }
  if (unacked_ == 0 || revision != unacked_) {
    return Invalid(absl::StrCat(acked ? "Ack" : "Nack", " for revision ", revision,
                                ", which is not the update in flight"));
  }
  unacked_ = 0;
  ++generation_;
  const std::string policy = policy_;
  if (acked && sha256 == unacked_sha256_) {
    position_ = AgentPosition{.policy = policy, .revision = revision, .sha256 = sha256};
    refused_ = 0;
    deps_.state.Update(agent_id_, [&](record::AgentStatusRecord& state) {
      state.set_policy(policy);
      state.set_applied_revision(revision);
      state.set_nacked_revision(0);
      state.clear_nack_reason();
    });
    return grpc::Status::OK;
  }
  // A Nack, or an Ack of other content than sent: the agent keeps what it had. It gets the FULL
  // document if it asks, but once only: a refused FULL is not sent again for this revision.
  position_.needs_full = (needs_full || acked) && !unacked_full_;
  refused_ = revision;
  const std::string why = acked ? "acked content with another hash" : reason.substr(0, 1024);
  deps_.state.Update(agent_id_, [&](record::AgentStatusRecord& state) {
    state.set_policy(policy);
    state.set_nacked_revision(revision);
    state.set_nack_reason(why);
  });
  return grpc::Status::OK;
}

void AgentSession::OnDone() {
  // A replaced session must not mark offline the agent its successor serves.
  const bool current = deps_.hub.Unregister(*this);
  std::shared_ptr<AgentSession> self;
  {
    absl::MutexLock lock(&mu_);
    if (unenrolled_) {
      deps_.state.Forget(agent_id_);
    } else if (hello_ && current) {
      deps_.state.Update(agent_id_, [](record::AgentStatusRecord& state) {
        state.set_status(v1::AGENT_STATUS_OFFLINE);
      });
    }
    self = std::move(self_);
  }
  // `self` may be the last reference: this object ends here.
}

}  // namespace fleet::server
