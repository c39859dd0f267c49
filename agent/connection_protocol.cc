#include "agent/connection_protocol.h"

#include <google/protobuf/util/time_util.h>

#include <utility>

#include "absl/random/distributions.h"

namespace fleet::agent {
namespace {

using google::protobuf::util::TimeUtil;

absl::Duration ToDuration(const google::protobuf::Duration& duration) {
  return absl::Microseconds(TimeUtil::DurationToMicroseconds(duration));
}

}  // namespace

ConnectionProtocol::ConnectionProtocol(Transport& transport, Clock& clock, absl::BitGenRef rng,
                                       PolicyApplier applier, AgentConnectionHooks hooks,
                                       ConnectionProtocolOptions options)
    : transport_(transport),
      clock_(clock),
      rng_(rng),
      hooks_(std::move(hooks)),
      options_(std::move(options)),
      applier_(std::move(applier)),
      backoff_(options_.backoff, rng_) {}

void ConnectionProtocol::Start() {
  if (state_ != State::kIdle) return;
  state_ = State::kConnecting;
  transport_.Connect();
}

void ConnectionProtocol::Stop() {
  if (stopping_ || state_ == State::kFinished) return;
  stopping_ = true;
  switch (state_) {
    case State::kIdle:
      Finish(absl::OkStatus());
      break;
    case State::kConnecting:
    case State::kStreaming:
      // OnStreamEnded finishes.
      CancelHeartbeat();
      transport_.CancelStream();
      break;
    case State::kWaiting:
      transport_.CancelTimer(Timer::kReconnect);
      Finish(absl::OkStatus());
      break;
    case State::kFinished:
      break;
  }
}

void ConnectionProtocol::OnStreamStarted() {
  if (state_ != State::kConnecting) return;
  state_ = State::kStreaming;
  v1::AgentMessage hello;
  *hello.mutable_hello() = applier_.HelloMessage();
  Send(std::move(hello));
}

void ConnectionProtocol::OnMessage(const v1::ServerMessage& message) {
  if (state_ != State::kStreaming) return;
  switch (message.message_case()) {
    case v1::ServerMessage::kWelcome:
      OnWelcome(message.welcome());
      break;
    case v1::ServerMessage::kPolicyUpdate:
      OnPolicyUpdate(message.policy_update());
      break;
    case v1::ServerMessage::kGoAway:
      OnGoAway(message.go_away());
      break;
    case v1::ServerMessage::kCredentials:
      OnCredentials(message.credentials());
      break;
    case v1::ServerMessage::kAction:
    case v1::ServerMessage::kActionCancel:
    case v1::ServerMessage::kQuery:
    case v1::ServerMessage::MESSAGE_NOT_SET:
      break;
  }
}

void ConnectionProtocol::OnWelcome(const v1::Welcome& welcome) {
  // The server took the agent: the next failure is a new one, not one more of a series.
  backoff_.Reset();
  const absl::Duration interval = ToDuration(welcome.heartbeat_interval());
  if (interval > absl::ZeroDuration()) {
    heartbeat_interval_ = interval;
    if (!heartbeat_armed_ && !send_closed_) ArmHeartbeat();
  }
  if (options_.status_after_connect.has_value()) {
    v1::AgentMessage status;
    *status.mutable_status() = *options_.status_after_connect;
    Send(std::move(status));
  }
  if (hooks_.on_connected) hooks_.on_connected(welcome);
}

void ConnectionProtocol::OnPolicyUpdate(const v1::PolicyUpdate& update) {
  const absl::Time received_at = clock_.Now();
  const bool refused = hooks_.refuse && hooks_.refuse(update);
  ApplyOutcome outcome;
  if (refused) {
    outcome.revision = update.target_revision();
    outcome.nack_reason = "refused by the simulated agent";
  } else {
    outcome = applier_.Apply(update, options_.apply_cache);
  }
  const absl::Time applied_at = clock_.Now();
  Send(outcome.Reply());
  if (hooks_.on_update) {
    hooks_.on_update(UpdateEvent{.update = update,
                                 .outcome = outcome,
                                 .refused = refused,
                                 .received_at = received_at,
                                 .applied_at = applied_at});
  }
}

void ConnectionProtocol::OnGoAway(const v1::GoAway& go_away) {
  go_away_after_ = ToDuration(go_away.reconnect_after());
  // Answers already queued still go out; the half-close then lets the server end the stream.
  CancelHeartbeat();
  if (send_closed_) return;
  send_closed_ = true;
  transport_.CloseSend();
}

void ConnectionProtocol::OnCredentials(const v1::Credentials& credentials) {
  // Saved first: a confirmed secret the agent could lose in a crash would lock it out.
  const absl::Status saved = transport_.SaveSecret(credentials.agent_secret());
  if (hooks_.on_credentials) hooks_.on_credentials(saved);
  if (!saved.ok()) return;
  v1::AgentMessage confirmed;
  confirmed.mutable_credentials_confirmed()->set_agent_secret(credentials.agent_secret());
  Send(std::move(confirmed));
}

void ConnectionProtocol::OnStreamEnded(const absl::Status& status) {
  if (state_ != State::kConnecting && state_ != State::kStreaming) return;
  CancelHeartbeat();
  const std::optional<absl::Duration> go_away_after = go_away_after_;
  heartbeat_interval_ = absl::ZeroDuration();
  send_closed_ = false;
  go_away_after_.reset();
  if (hooks_.on_disconnected) hooks_.on_disconnected(status);

  if (status.code() == absl::StatusCode::kUnauthenticated) {
    Finish(status);
    return;
  }
  if (stopping_) {
    Finish(absl::OkStatus());
    return;
  }
  const absl::Duration delay =
      go_away_after.has_value()
          ? *go_away_after * absl::Uniform(rng_, 1.0, 1.0 + backoff_.options().jitter)
          : backoff_.Next();
  state_ = State::kWaiting;
  transport_.SetTimer(Timer::kReconnect, clock_.Now() + delay);
}

void ConnectionProtocol::OnTimer(Timer timer) {
  switch (timer) {
    case Timer::kHeartbeat: {
      if (!heartbeat_armed_) return;
      heartbeat_armed_ = false;
      v1::AgentMessage heartbeat;
      heartbeat.mutable_heartbeat();
      Send(std::move(heartbeat));
      ArmHeartbeat();
      return;
    }
    case Timer::kReconnect:
      if (state_ != State::kWaiting) return;
      state_ = State::kConnecting;
      transport_.Connect();
      return;
  }
}

void ConnectionProtocol::Send(v1::AgentMessage message) {
  if (!send_closed_) transport_.Send(std::move(message));
}

void ConnectionProtocol::ArmHeartbeat() {
  heartbeat_armed_ = true;
  transport_.SetTimer(Timer::kHeartbeat, clock_.Now() + heartbeat_interval_);
}

void ConnectionProtocol::CancelHeartbeat() {
  if (!heartbeat_armed_) return;
  heartbeat_armed_ = false;
  transport_.CancelTimer(Timer::kHeartbeat);
}

void ConnectionProtocol::Finish(const absl::Status& status) {
  state_ = State::kFinished;
  transport_.Finished(status);
}

}  // namespace fleet::agent
