#include "agent/agent_connection.h"

#include <grpc/slice.h>
#include <grpcpp/support/proto_buffer_reader.h>
#include <grpcpp/support/slice.h>

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "rpc/async_client_stream.h"

namespace fleet::agent {
namespace {

// Secrets fleetd sends are 82 bytes (agent.proto's Credentials); CredentialsConfirmed takes at
// most this many.
constexpr size_t kMaxSecretBytes = 128;

// A process-wide pool for connections that bring no queue of their own.
grpc::CompletionQueue* DefaultQueue() {
  static rpc::CqPool* const pool = rpc::CqPool::ForClients(4).release();
  return pool->Next();
}

// The generic stub names the method itself: "/fleet.v1.AgentService/Connect".
const std::string& ConnectMethod() {
  static const std::string* const method =
      new std::string(absl::StrCat("/", v1::AgentService::service_full_name(), "/Connect"));
  return *method;
}

// `message` into `buffer` as one flat slice, as gRPC's own serializer does for a typed stream.
void SerializeInto(const v1::AgentMessage& message, grpc::ByteBuffer& buffer) {
  grpc_slice raw = grpc_slice_malloc(message.ByteSizeLong());
  message.SerializeWithCachedSizesToArray(GRPC_SLICE_START_PTR(raw));
  grpc::Slice slice(raw, grpc::Slice::STEAL_REF);
  // ByteBuffer has no move: a swap spares the copy an assignment would make.
  grpc::ByteBuffer bytes(&slice, 1);
  buffer.Swap(&bytes);
}

// Parses `buffer` into `message`, consuming the buffer; false when it is not one.
bool ParseFrom(grpc::ByteBuffer& buffer, v1::ServerMessage& message) {
  bool ok = false;
  {
    grpc::ProtoBufferReader reader(&buffer);
    ok = message.ParseFromZeroCopyStream(&reader);
  }
  buffer.Clear();
  return ok;
}

// Whether a stream that ended with `code` failed for want of its server, so that the next one
// should go to another.
bool LacksItsServer(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::DEADLINE_EXCEEDED ||
         code == grpc::StatusCode::UNKNOWN || code == grpc::StatusCode::INTERNAL ||
         code == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

// One Connect stream: the credentials in its metadata, and its callbacks handed to the
// connection, which holds everything else.
class AgentConnection::Stream final : public rpc::AsyncClientStream {
 public:
  // Created with the owner's lock held, in Connect().
  Stream(AgentConnection& owner, const AgentIdentity& identity) : owner_(owner) {
    context().AddMetadata("x-fleet-agent-id", identity.agent_id);
    context().AddMetadata("authorization", "Bearer " + identity.agent_secret);
    // While fleetd is away the stream waits for the channel, which reconnects with its own
    // backoff, instead of failing at once and growing the connection's backoff with each try:
    // after a restart, agents are back as soon as their channel is. With other servers to go
    // to, it fails at once instead, and the next stream goes elsewhere.
    context().set_wait_for_ready(owner.servers_.size() == 1);
  }

  // With the owner's lock held.
  void Start() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    StartCall(*owner_.stubs_[owner_.server_], ConnectMethod(), owner_.queue_);
  }

  using AsyncClientStream::StartRead;
  using AsyncClientStream::StartWrite;
  using AsyncClientStream::StartWritesDone;

 private:
  void OnStartDone(bool ok) override { owner_.OnStreamStarted(ok); }
  void OnReadDone(bool ok) override { owner_.OnStreamRead(ok); }
  void OnWriteDone(bool ok) override { owner_.OnStreamWritten(ok); }
  void OnWritesDoneDone(bool) override {}
  void OnDone(const grpc::Status& status) override { owner_.OnStreamDone(status); }

  AgentConnection& owner_;
};

AgentConnection::AgentConnection(std::shared_ptr<grpc::Channel> channel, AgentIdentity identity,
                                 PolicyApplier applier, AgentConnectionHooks hooks,
                                 AgentConnectionOptions options)
    : AgentConnection(std::vector<std::shared_ptr<grpc::Channel>>{std::move(channel)},
                      std::move(identity), std::move(applier), std::move(hooks),
                      std::move(options)) {}

AgentConnection::AgentConnection(std::vector<std::shared_ptr<grpc::Channel>> servers,
                                 AgentIdentity identity, PolicyApplier applier,
                                 AgentConnectionHooks hooks, AgentConnectionOptions options)
    : servers_(std::move(servers)),
      queue_(options.queue != nullptr ? options.queue : DefaultQueue()),
      save_identity_(std::move(options.save_identity)),
      timers_(options.timers),
      timer_host_(std::make_shared<TimerHost>()),
      rng_(options.seed),
      identity_(std::move(identity)),
      protocol_(*this, Clock::Real(), rng_, std::move(applier), std::move(hooks),
                std::move(options.protocol)) {
  for (const std::shared_ptr<grpc::Channel>& server : servers_) {
    stubs_.push_back(std::make_unique<grpc::GenericStub>(server));
  }
  absl::MutexLock lock(&timer_host_->mu);
  timer_host_->connection = this;
}

AgentConnection::~AgentConnection() {
  Stop();
  Join();
  absl::MutexLock lock(&timer_host_->mu);
  timer_host_->connection = nullptr;
}

absl::Status AgentConnection::Run() {
  Start();
  Join();
  return final_status();
}

void AgentConnection::Start() {
  absl::MutexLock lock(&mu_);
  if (started_) return;
  started_ = true;
  protocol_.Start();
}

void AgentConnection::Stop() {
  absl::MutexLock lock(&mu_);
  protocol_.Stop();
  MaybeDone();
}

void AgentConnection::Join() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](AgentConnection* self)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) { return self->done_ || !self->started_; },
      this));
}

absl::Status AgentConnection::final_status() const {
  absl::MutexLock lock(&mu_);
  return final_status_;
}

const PolicyApplier& AgentConnection::applier() const {
  absl::MutexLock lock(&mu_);
  return protocol_.applier();
}

AgentIdentity AgentConnection::identity() const {
  absl::MutexLock lock(&mu_);
  return identity_;
}

absl::Status AgentConnection::ReportAction(v1::ActionStatus status) {
  absl::MutexLock lock(&mu_);
  return protocol_.ReportAction(std::move(status));
}

absl::Status AgentConnection::SendQueryResult(v1::QueryResult result) {
  absl::MutexLock lock(&mu_);
  return protocol_.SendQueryResult(std::move(result));
}

void AgentConnection::Restart(std::string agent_version) {
  absl::MutexLock lock(&mu_);
  protocol_.Restart(std::move(agent_version));
}

absl::Status AgentConnection::SaveSecret(const std::string& agent_secret) {
  // A secret not of this agent's form ("fagt_<id>_<secret>", agent.proto) would lock the agent out
  // once saved: refused, so that the old one stays and the next stream rotates again.
  const std::string prefix = absl::StrCat("fagt_", identity_.agent_id, "_");
  if (!agent_secret.starts_with(prefix) || agent_secret.size() == prefix.size() ||
      agent_secret.size() > kMaxSecretBytes) {
    return absl::InvalidArgumentError("the new secret fleetd sent is not one of this agent's");
  }
  AgentIdentity rotated = identity_;
  rotated.agent_secret = agent_secret;
  if (save_identity_) {
    if (absl::Status saved = save_identity_(rotated); !saved.ok()) return saved;
  }
  identity_ = std::move(rotated);
  return absl::OkStatus();
}

void AgentConnection::Connect() {
  queued_.clear();
  writing_ = false;
  close_send_ = false;
  write_side_closed_ = false;
  stream_ = std::make_unique<Stream>(*this, identity_);
  stream_->Start();
}

void AgentConnection::Send(v1::AgentMessage message) {
  if (stream_ == nullptr || write_side_closed_ || close_send_) return;
  if (writing_) {
    queued_.push_back(std::move(message));
    return;
  }
  StartWrite(message);
}

void AgentConnection::StartWrite(const v1::AgentMessage& message) {
  writing_ = true;
  SerializeInto(message, write_buffer_);
  stream_->StartWrite(&write_buffer_);
}

void AgentConnection::CloseSend() {
  if (stream_ == nullptr || close_send_) return;
  close_send_ = true;
  if (writing_ || write_side_closed_) return;
  writing_ = true;
  write_side_closed_ = true;
  stream_->StartWritesDone();
}

void AgentConnection::CancelStream() {
  if (stream_ != nullptr) stream_->TryCancel();
}

AgentConnection::TimerSlot& AgentConnection::SlotOf(Timer timer) {
  return timer == Timer::kHeartbeat ? heartbeat_ : reconnect_;
}

void AgentConnection::SetTimer(Timer timer, absl::Time at) {
  TimerSlot& slot = SlotOf(timer);
  slot.armed = true;
  slot.at = at;
  if (timers_ != nullptr) {
    const uint64_t generation = ++slot.generation;
    timers_->At(at, [host = timer_host_, timer, generation] {
      absl::MutexLock lock(&host->mu);
      if (host->connection != nullptr) host->connection->OnScheduled(timer, generation);
    });
    return;
  }
  if (!slot.in_flight) {
    SetAlarm(slot);
    return;
  }
  // An alarm can be set again only once its tag is back: cancel it, and OnAlarm sets it anew.
  slot.rearm = true;
  slot.alarm.Cancel();
}

void AgentConnection::CancelTimer(Timer timer) {
  TimerSlot& slot = SlotOf(timer);
  slot.armed = false;
  slot.rearm = false;
  // A scheduled task of the timer finds another generation and does nothing.
  ++slot.generation;
  // The tag then comes back with fired = false.
  if (slot.in_flight) slot.alarm.Cancel();
}

void AgentConnection::SetAlarm(TimerSlot& slot) {
  slot.in_flight = true;
  slot.alarm.Set(queue_, absl::ToChronoTime(slot.at), &slot.tag);
}

void AgentConnection::Finished(const absl::Status& status) {
  finished_ = true;
  final_status_ = status;
}

void AgentConnection::OnStreamStarted(bool ok) {
  // A stream that did not start ends by itself (OnStreamDone).
  if (!ok) return;
  absl::MutexLock lock(&mu_);
  protocol_.OnStreamStarted();
  stream_->StartRead(&read_buffer_);
}

void AgentConnection::OnStreamRead(bool ok) {
  // After a failed read the stream collects its status and ends (OnStreamDone).
  if (!ok) return;
  absl::MutexLock lock(&mu_);
  if (ParseFrom(read_buffer_, incoming_)) {
    protocol_.OnMessage(incoming_);
  } else {
    // Not a ServerMessage: the stream is of no use and ends like a broken one, once the read
    // below has failed.
    stream_->TryCancel();
  }
  stream_->StartRead(&read_buffer_);
}

void AgentConnection::OnStreamWritten(bool ok) {
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (!ok) {
    // The stream is broken; its reads end too.
    write_side_closed_ = true;
    queued_.clear();
    return;
  }
  if (!queued_.empty()) {
    const v1::AgentMessage next = std::move(queued_.front());
    queued_.erase(queued_.begin());
    StartWrite(next);
  } else if (close_send_ && !write_side_closed_) {
    writing_ = true;
    write_side_closed_ = true;
    stream_->StartWritesDone();
  }
}

void AgentConnection::OnStreamDone(const grpc::Status& status) {
  absl::MutexLock lock(&mu_);
  // Freed on the way out, still under the lock: Join() may return as soon as it is released.
  const std::unique_ptr<Stream> ended = std::move(stream_);
  queued_.clear();
  if (servers_.size() > 1 && LacksItsServer(status.error_code())) {
    server_ = (server_ + 1) % servers_.size();
  }
  protocol_.OnStreamEnded(FromGrpcStatus(status));
  MaybeDone();
}

void AgentConnection::OnAlarm(Timer timer, bool fired) {
  absl::MutexLock lock(&mu_);
  TimerSlot& slot = SlotOf(timer);
  slot.in_flight = false;
  if (slot.rearm) {
    slot.rearm = false;
    SetAlarm(slot);
  } else if (slot.armed && fired) {
    slot.armed = false;
    protocol_.OnTimer(timer);
  } else {
    // Cancelled, by the protocol or by the queue shutting down.
    slot.armed = false;
  }
  MaybeDone();
}

void AgentConnection::OnScheduled(Timer timer, uint64_t generation) {
  absl::MutexLock lock(&mu_);
  TimerSlot& slot = SlotOf(timer);
  if (!slot.armed || slot.generation != generation) return;
  slot.armed = false;
  protocol_.OnTimer(timer);
  MaybeDone();
}

void AgentConnection::MaybeDone() {
  done_ = finished_ && stream_ == nullptr && !heartbeat_.in_flight && !reconnect_.in_flight;
}

}  // namespace fleet::agent
