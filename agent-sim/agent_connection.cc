#include "agent-sim/agent_connection.h"

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

// Writes one at a time (the sync API allows no more, and heartbeats come from another thread
// than replies), never after the half-close.
bool AgentConnection::Send(Stream& stream, WriteSide& write_side, const v1::AgentMessage& message) {
  absl::MutexLock lock(&write_side.mu);
  return !write_side.closed && stream.Write(message);
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

AgentConnection::AgentConnection(std::shared_ptr<grpc::Channel> channel, AgentIdentity identity,
                                 PolicyApplier applier, AgentConnectionHooks hooks,
                                 AgentConnectionOptions options)
    : channel_(std::move(channel)),
      stub_(v1::AgentService::NewStub(channel_)),
      identity_(std::move(identity)),
      hooks_(std::move(hooks)),
      options_(std::move(options)),
      applier_(std::move(applier)),
      rng_(options_.seed),
      backoff_(options_.backoff, rng_) {}

AgentConnection::~AgentConnection() {
  Stop();
  Join();
}

void AgentConnection::Start() {
  thread_ = std::thread([this] {
    absl::Status status = Run();
    absl::MutexLock lock(&mu_);
    final_status_ = std::move(status);
  });
}

void AgentConnection::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  if (context_ != nullptr) context_->TryCancel();
}

void AgentConnection::Join() {
  if (thread_.joinable()) thread_.join();
}

absl::Status AgentConnection::final_status() const {
  absl::MutexLock lock(&mu_);
  return final_status_;
}

absl::Status AgentConnection::Run() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return absl::OkStatus();
    }
    StreamResult result = RunStream();
    if (result.status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
      return FromGrpcStatus(result.status);
    }
    if (result.delivered) backoff_.Reset();
    const absl::Duration delay =
        result.go_away_after.has_value()
            ? *result.go_away_after * absl::Uniform(rng_, 1.0, 1.0 + options_.backoff.jitter)
            : backoff_.Next();
    if (!WaitBeforeReconnect(delay)) return absl::OkStatus();
  }
}

AgentConnection::StreamResult AgentConnection::RunStream() {
  StreamResult result;
  grpc::ClientContext context;
  context.AddMetadata("x-fleet-agent-id", identity_.agent_id);
  context.AddMetadata("authorization", "Bearer " + identity_.agent_secret);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      result.status = grpc::Status::CANCELLED;
      return result;
    }
    context_ = &context;
    stream_done_ = false;
  }
  std::unique_ptr<Stream> stream = stub_->Connect(&context);
  WriteSide write_side;
  v1::AgentMessage hello;
  *hello.mutable_hello() = applier_.HelloMessage();
  std::thread heartbeat;
  if (Send(*stream, write_side, hello)) {
    ReadLoop(*stream, write_side, result, heartbeat);
  }
  {
    absl::MutexLock lock(&mu_);
    stream_done_ = true;
  }
  if (heartbeat.joinable()) heartbeat.join();
  result.status = stream->Finish();
  {
    absl::MutexLock lock(&mu_);
    context_ = nullptr;
  }
  if (hooks_.on_disconnected) hooks_.on_disconnected(FromGrpcStatus(result.status));
  return result;
}

void AgentConnection::ReadLoop(Stream& stream, WriteSide& write_side, StreamResult& result,
                               std::thread& heartbeat) {
  v1::ServerMessage message;
  while (stream.Read(&message)) {
    result.delivered = true;
    switch (message.message_case()) {
      case v1::ServerMessage::kWelcome: {
        const absl::Duration interval = ToDuration(message.welcome().heartbeat_interval());
        if (interval > absl::ZeroDuration() && !heartbeat.joinable()) {
          heartbeat = std::thread([this, &stream, &write_side, interval] {
            HeartbeatLoop(stream, write_side, interval);
          });
        }
        if (options_.status_after_connect.has_value()) {
          v1::AgentMessage status;
          *status.mutable_status() = *options_.status_after_connect;
          Send(stream, write_side, status);
        }
        if (hooks_.on_connected) hooks_.on_connected(message.welcome());
        break;
      }
      case v1::ServerMessage::kPolicyUpdate:
        HandleUpdate(message.policy_update(), stream, write_side);
        break;
      case v1::ServerMessage::kGoAway: {
        // Answers already sent still land; half-close so that the server can end the stream,
        // and read on until it does.
        result.go_away_after = ToDuration(message.go_away().reconnect_after());
        absl::MutexLock lock(&write_side.mu);
        if (!write_side.closed) stream.WritesDone();
        write_side.closed = true;
        break;
      }
      default:
        break;
    }
  }
}

void AgentConnection::HandleUpdate(const v1::PolicyUpdate& update, Stream& stream,
                                   WriteSide& write_side) {
  const absl::Time received_at = absl::Now();
  const bool refused = hooks_.refuse && hooks_.refuse(update);
  ApplyOutcome outcome;
  if (refused) {
    outcome.revision = update.target_revision();
    outcome.nack_reason = "refused by the simulated agent";
  } else {
    outcome = applier_.Apply(update);
  }
  const absl::Time applied_at = absl::Now();
  Send(stream, write_side, outcome.Reply());
  if (hooks_.on_update) {
    hooks_.on_update(UpdateEvent{.update = update,
                                 .outcome = outcome,
                                 .refused = refused,
                                 .received_at = received_at,
                                 .applied_at = applied_at});
  }
}

void AgentConnection::HeartbeatLoop(Stream& stream, WriteSide& write_side,
                                    absl::Duration interval) {
  v1::AgentMessage heartbeat;
  heartbeat.mutable_heartbeat();
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(this, &AgentConnection::StreamEnded), interval)) {
        return;
      }
    }
    if (!Send(stream, write_side, heartbeat)) return;
  }
}

bool AgentConnection::WaitBeforeReconnect(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  return !mu_.AwaitWithTimeout(absl::Condition(&stopping_), delay);
}

}  // namespace fleet::agent
