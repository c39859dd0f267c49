#include "agent-sim/agent_connection.h"

#include <google/protobuf/util/time_util.h>
#include <grpcpp/support/client_callback.h>

#include <deque>
#include <utility>

#include "absl/random/distributions.h"

namespace fleet::agent {
namespace {

using google::protobuf::util::TimeUtil;

absl::Duration ToDuration(const google::protobuf::Duration& duration) {
  return absl::Microseconds(TimeUtil::DurationToMicroseconds(duration));
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// The stream's own threads of control are gRPC's reactions (reads, writes, OnDone) and the
// heartbeat alarm. gRPC may run a reaction inline inside Start*(), so Start* is never called with
// mu_ held. The heartbeat flow runs outside the reactions, so it holds the stream open (AddHold)
// until it has seen the reads end; OnDone therefore comes after the last heartbeat callback.
class AgentConnection::Stream final
    : public grpc::ClientBidiReactor<v1::AgentMessage, v1::ServerMessage> {
 public:
  explicit Stream(AgentConnection& owner) : owner_(owner) {
    context_.AddMetadata("x-fleet-agent-id", owner_.identity_.agent_id);
    context_.AddMetadata("authorization", "Bearer " + owner_.identity_.agent_secret);
  }

  // Starts the call with Hello as the first write.
  void Start() {
    owner_.stub_->async()->Connect(&context_, this);
    v1::AgentMessage hello;
    *hello.mutable_hello() = owner_.applier_.HelloMessage();
    AddHold();  // the heartbeat flow's
    Send(std::move(hello));
    StartRead(&incoming_);
    StartCall();
  }

  // Thread-safe; OnDone follows.
  void Cancel() { context_.TryCancel(); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      EndHeartbeats();
      return;
    }
    result_.delivered = true;
    switch (incoming_.message_case()) {
      case v1::ServerMessage::kWelcome:
        OnWelcome(incoming_.welcome());
        break;
      case v1::ServerMessage::kPolicyUpdate:
        OnPolicyUpdate(incoming_.policy_update());
        break;
      case v1::ServerMessage::kGoAway:
        // Answers already queued still go out; then the half-close lets the server end the
        // stream, and the reads go on until it does.
        result_.go_away_after = ToDuration(incoming_.go_away().reconnect_after());
        RequestWritesDone();
        break;
      default:
        break;
    }
    StartRead(&incoming_);
  }

  void OnWriteDone(bool ok) override {
    const v1::AgentMessage* next = nullptr;
    bool writes_done = false;
    {
      absl::MutexLock lock(&mu_);
      outgoing_.pop_front();
      if (!ok) {
        // The stream is broken; its reads end too, and OnDone follows.
        write_side_closed_ = true;
        outgoing_.clear();
      } else if (!outgoing_.empty()) {
        next = &outgoing_.front();
      } else if (writes_done_wanted_ && !write_side_closed_) {
        write_side_closed_ = true;
        writes_done = true;
      }
      writing_ = next != nullptr || writes_done;
    }
    if (next != nullptr) StartWrite(next);
    if (writes_done) StartWritesDone();
  }

  void OnDone(const grpc::Status& status) override {
    result_.status = status;
    owner_.StreamEnded(this, result_);  // deletes this
  }

 private:
  void OnWelcome(const v1::Welcome& welcome) {
    const absl::Duration interval = ToDuration(welcome.heartbeat_interval());
    if (interval > absl::ZeroDuration()) {
      absl::MutexLock lock(&mu_);
      heartbeat_interval_ = interval;
      if (!heartbeat_armed_ && heartbeat_hold_) ArmHeartbeat();
    }
    if (owner_.options_.status_after_connect.has_value()) {
      v1::AgentMessage status;
      *status.mutable_status() = *owner_.options_.status_after_connect;
      Send(std::move(status));
    }
    if (owner_.hooks_.on_connected) owner_.hooks_.on_connected(welcome);
  }

  void OnPolicyUpdate(const v1::PolicyUpdate& update) {
    const absl::Time received_at = absl::Now();
    const AgentConnectionHooks& hooks = owner_.hooks_;
    const bool refused = hooks.refuse && hooks.refuse(update);
    ApplyOutcome outcome;
    if (refused) {
      outcome.revision = update.target_revision();
      outcome.nack_reason = "refused by the simulated agent";
    } else {
      outcome = owner_.applier_.Apply(update);
    }
    const absl::Time applied_at = absl::Now();
    Send(outcome.Reply());
    if (hooks.on_update) {
      hooks.on_update(UpdateEvent{.update = update,
                                  .outcome = outcome,
                                  .refused = refused,
                                  .received_at = received_at,
                                  .applied_at = applied_at});
    }
  }

  // Queues `message` behind the write in flight; dropped once the write side has closed.
  void Send(v1::AgentMessage message) {
    const v1::AgentMessage* start = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (write_side_closed_ || writes_done_wanted_) return;
      outgoing_.push_back(std::move(message));
      if (!writing_) {
        writing_ = true;
        start = &outgoing_.front();
      }
    }
    if (start != nullptr) StartWrite(start);
  }

  // Half-closes once the queued writes are out.
  void RequestWritesDone() {
    bool now = false;
    {
      absl::MutexLock lock(&mu_);
      writes_done_wanted_ = true;
      if (!writing_ && !write_side_closed_) {
        writing_ = true;
        write_side_closed_ = true;
        now = true;
      }
    }
    if (now) StartWritesDone();
  }

  void ArmHeartbeat() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    heartbeat_armed_ = true;
    // The alarm's callback runs on gRPC's executor, never inside Set() or Cancel().
    heartbeat_alarm_.Set(absl::ToChronoTime(absl::Now() + heartbeat_interval_),
                         [this](bool ok) { OnHeartbeat(ok); });
  }

  void OnHeartbeat(bool fired) {
    bool live = false;
    {
      absl::MutexLock lock(&mu_);
      live = fired && !reads_ended_;
    }
    if (live) {
      v1::AgentMessage heartbeat;
      heartbeat.mutable_heartbeat();
      Send(std::move(heartbeat));
    }
    bool release = false;
    {
      absl::MutexLock lock(&mu_);
      heartbeat_armed_ = false;
      if (fired && !reads_ended_) {
        ArmHeartbeat();
      } else {
        heartbeat_hold_ = false;
        release = true;
      }
    }
    if (release) RemoveHold();  // may run OnDone, which deletes this: nothing after it
  }

  // The reads ended: stop the heartbeat flow and let OnDone come.
  void EndHeartbeats() {
    bool release = false;
    {
      absl::MutexLock lock(&mu_);
      reads_ended_ = true;
      if (heartbeat_armed_) {
        heartbeat_alarm_.Cancel();  // OnHeartbeat(false) releases the hold
      } else if (heartbeat_hold_) {
        heartbeat_hold_ = false;
        release = true;
      }
    }
    if (release) RemoveHold();
  }

  AgentConnection& owner_;
  grpc::ClientContext context_;
  // Read callbacks only (one at a time), then OnDone.
  v1::ServerMessage incoming_;
  StreamResult result_;

  absl::Mutex mu_;
  // Queued writes; the front one is in flight while writing_.
  std::deque<v1::AgentMessage> outgoing_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // GoAway asked for the half-close after the queued writes.
  bool writes_done_wanted_ ABSL_GUARDED_BY(mu_) = false;
  // The half-close started, or a write failed: nothing more is written.
  bool write_side_closed_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_ended_ ABSL_GUARDED_BY(mu_) = false;
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_);
  grpc::Alarm heartbeat_alarm_ ABSL_GUARDED_BY(mu_);
  bool heartbeat_armed_ ABSL_GUARDED_BY(mu_) = false;
  // The heartbeat flow's hold on the stream is still held.
  bool heartbeat_hold_ ABSL_GUARDED_BY(mu_) = true;
};

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

absl::Status AgentConnection::Run() {
  Start();
  Join();
  return final_status();
}

void AgentConnection::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_) return;
    started_ = true;
  }
  OpenStream();
}

void AgentConnection::Stop() {
  absl::MutexLock lock(&mu_);
  stopping_ = true;
  if (stream_ != nullptr) {
    stream_->Cancel();
  } else if (reconnect_pending_) {
    reconnect_alarm_->Cancel();  // its callback ends the connection
  }
}

void AgentConnection::Join() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](AgentConnection* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
        return self->finished_ || !self->started_;
      },
      this));
}

absl::Status AgentConnection::final_status() const {
  absl::MutexLock lock(&mu_);
  return final_status_;
}

void AgentConnection::Finish(absl::Status status) {
  final_status_ = std::move(status);
  finished_ = true;
}

void AgentConnection::OpenStream() {
  Stream* stream = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      Finish(absl::OkStatus());
      return;
    }
    stream = new Stream(*this);
    stream_ = stream;
  }
  stream->Start();
}

void AgentConnection::StreamEnded(Stream* stream, const StreamResult& ended) {
  const StreamResult result = ended;
  if (hooks_.on_disconnected) hooks_.on_disconnected(FromGrpcStatus(result.status));
  {
    absl::MutexLock lock(&mu_);
    stream_ = nullptr;
  }
  delete stream;

  absl::MutexLock lock(&mu_);
  if (result.status.error_code() == grpc::StatusCode::UNAUTHENTICATED) {
    Finish(FromGrpcStatus(result.status));
    return;
  }
  if (stopping_) {
    Finish(absl::OkStatus());
    return;
  }
  if (result.delivered) backoff_.Reset();
  const absl::Duration delay =
      result.go_away_after.has_value()
          ? *result.go_away_after * absl::Uniform(rng_, 1.0, 1.0 + options_.backoff.jitter)
          : backoff_.Next();
  reconnect_pending_ = true;
  reconnect_alarm_ = std::make_unique<grpc::Alarm>();
  reconnect_alarm_->Set(absl::ToChronoTime(absl::Now() + delay), [this](bool fired) {
    {
      absl::MutexLock lock(&mu_);
      reconnect_pending_ = false;
      if (!fired || stopping_) {
        Finish(absl::OkStatus());
        return;
      }
    }
    OpenStream();
  });
}

}  // namespace fleet::agent
