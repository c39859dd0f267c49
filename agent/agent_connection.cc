#include "agent/agent_connection.h"

#include <google/protobuf/util/time_util.h>

#include <deque>
#include <utility>

#include "absl/random/distributions.h"
#include "rpc/op_counter.h"

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

// A process-wide pool for connections that bring no queue of their own.
grpc::CompletionQueue* DefaultQueue() {
  static rpc::CqPool* const pool = rpc::CqPool::ForClients(4).release();
  return pool->Next();
}

// One Connect stream on the async API. Every operation (start, reads, writes, the half-close,
// the heartbeat alarm, Finish) is a tag on the connection's queue, counted while outstanding;
// once the reads have ended, Finish collects the status, and when nothing is outstanding the
// stream reports to its owner, which deletes it.
class AgentConnection::Stream final {
 public:
  explicit Stream(AgentConnection& owner) : owner_(owner) {
    context_.AddMetadata("x-fleet-agent-id", owner_.identity_.agent_id);
    context_.AddMetadata("authorization", "Bearer " + owner_.identity_.agent_secret);
    // While fleetd is away the stream waits for the channel, which reconnects with its own
    // backoff, instead of failing at once and growing the connection's backoff with each try:
    // after a restart, agents are back as soon as their channel is.
    context_.set_wait_for_ready(true);
  }

  void Start() {
    call_ = owner_.stub_->PrepareAsyncConnect(&context_, owner_.queue_);
    ops_.Begin();
    call_->StartCall(&start_op_);
  }

  // Thread-safe; the stream ends soon after.
  void Cancel() { context_.TryCancel(); }

 private:
  enum class OpKind { kStart, kRead, kWrite, kWritesDone, kHeartbeat, kFinish };
  class Op final : public rpc::CqTag {
   public:
    Op(Stream& stream, OpKind kind) : stream_(stream), kind_(kind) {}
    void Done(bool ok) override { stream_.Complete(kind_, ok); }

   private:
    Stream& stream_;
    const OpKind kind_;
  };

  void Complete(OpKind kind, bool ok) {
    switch (kind) {
      case OpKind::kStart:
        OnStarted(ok);
        break;
      case OpKind::kRead:
        OnReadDone(ok);
        break;
      case OpKind::kWrite:
        OnWriteDone(ok);
        break;
      case OpKind::kWritesDone:
        break;
      case OpKind::kHeartbeat:
        OnHeartbeat(ok);
        break;
      case OpKind::kFinish:
        result_.status = status_;
        break;
    }
    if (ops_.End(kind == OpKind::kFinish)) owner_.StreamEnded(this, result_);  // deletes this
  }

  void OnStarted(bool ok) {
    if (!ok) {
      ReadsEnded();
      return;
    }
    v1::AgentMessage hello;
    *hello.mutable_hello() = owner_.applier_.HelloMessage();
    Send(std::move(hello));
    ops_.Begin();
    call_->Read(&incoming_, &read_op_);
  }

  void OnReadDone(bool ok) {
    if (!ok) {
      ReadsEnded();
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
    ops_.Begin();
    call_->Read(&incoming_, &read_op_);
  }

  // No more reads: stop the heartbeats and collect the status.
  void ReadsEnded() {
    {
      absl::MutexLock lock(&mu_);
      reads_ended_ = true;
      // The alarm's tag then completes with ok = false.
      if (heartbeat_armed_) heartbeat_alarm_.Cancel();
      ops_.Begin();
    }
    call_->Finish(&status_, &finish_op_);
  }

  void OnWriteDone(bool ok) {
    const v1::AgentMessage* next = nullptr;
    bool writes_done = false;
    {
      absl::MutexLock lock(&mu_);
      outgoing_.pop_front();
      if (!ok) {
        // The stream is broken; its reads end too.
        write_side_closed_ = true;
        outgoing_.clear();
      } else if (!outgoing_.empty()) {
        next = &outgoing_.front();
      } else if (writes_done_wanted_ && !write_side_closed_) {
        write_side_closed_ = true;
        writes_done = true;
      }
      writing_ = next != nullptr || writes_done;
      if (writing_) ops_.Begin();
    }
    if (next != nullptr) call_->Write(*next, &write_op_);
    if (writes_done) call_->WritesDone(&writes_done_op_);
  }

  void OnWelcome(const v1::Welcome& welcome) {
    const absl::Duration interval = ToDuration(welcome.heartbeat_interval());
    if (interval > absl::ZeroDuration()) {
      absl::MutexLock lock(&mu_);
      heartbeat_interval_ = interval;
      if (!heartbeat_armed_ && !reads_ended_) ArmHeartbeat();
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
      outcome = owner_.applier_.Apply(update, owner_.options_.apply_cache);
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
        ops_.Begin();
        start = &outgoing_.front();
      }
    }
    if (start != nullptr) call_->Write(*start, &write_op_);
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
        ops_.Begin();
        now = true;
      }
    }
    if (now) call_->WritesDone(&writes_done_op_);
  }

  void ArmHeartbeat() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    heartbeat_armed_ = true;
    ops_.Begin();
    heartbeat_alarm_.Set(owner_.queue_, absl::ToChronoTime(absl::Now() + heartbeat_interval_),
                         &heartbeat_op_);
  }

  void OnHeartbeat(bool fired) {
    bool live = false;
    {
      absl::MutexLock lock(&mu_);
      heartbeat_armed_ = false;
      live = fired && !reads_ended_;
    }
    if (!live) return;
    v1::AgentMessage heartbeat;
    heartbeat.mutable_heartbeat();
    Send(std::move(heartbeat));
    absl::MutexLock lock(&mu_);
    if (!reads_ended_ && !heartbeat_armed_) ArmHeartbeat();
  }

  AgentConnection& owner_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<v1::AgentMessage, v1::ServerMessage>> call_;
  Op start_op_{*this, OpKind::kStart};
  Op read_op_{*this, OpKind::kRead};
  Op write_op_{*this, OpKind::kWrite};
  Op writes_done_op_{*this, OpKind::kWritesDone};
  Op heartbeat_op_{*this, OpKind::kHeartbeat};
  Op finish_op_{*this, OpKind::kFinish};
  // The read callbacks' (one at a time), then Finish's.
  v1::ServerMessage incoming_;
  grpc::Status status_;
  StreamResult result_;

  rpc::OpCounter ops_;
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
};

AgentConnection::AgentConnection(std::shared_ptr<grpc::Channel> channel, AgentIdentity identity,
                                 PolicyApplier applier, AgentConnectionHooks hooks,
                                 AgentConnectionOptions options)
    : channel_(std::move(channel)),
      stub_(v1::AgentService::NewStub(channel_)),
      identity_(std::move(identity)),
      hooks_(std::move(hooks)),
      options_(std::move(options)),
      queue_(options_.queue != nullptr ? options_.queue : DefaultQueue()),
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
    reconnect_alarm_.Cancel();  // its tag then ends the connection
  }
}

void AgentConnection::Join() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](AgentConnection* self)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) { return self->finished_ || !self->started_; },
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
  reconnect_alarm_.Set(queue_, absl::ToChronoTime(absl::Now() + delay), &reconnect_tag_);
}

void AgentConnection::OnReconnectAlarm(bool fired) {
  {
    absl::MutexLock lock(&mu_);
    reconnect_pending_ = false;
    if (!fired || stopping_) {
      Finish(absl::OkStatus());
      return;
    }
  }
  OpenStream();
}

}  // namespace fleet::agent
