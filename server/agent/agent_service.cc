#include "server/agent/agent_service.h"

#include <string>
#include <utility>

#include "rpc/grpc_status.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/secret_token.h"
#include "server/model/store_layout.h"

namespace fleet::server {
namespace {

// A stream refused before it started.
// How many completion queues (each with a thread) serve Connect streams: enough that each queue's
// outstanding operations stay a few thousand with 100,000 agents.
constexpr int kConnectQueues = 32;

// A Connect call refused before its session starts: finished at once, deleted when done.
class RejectedStream final : public rpc::AsyncServerStream {
 public:
  static void Start(std::unique_ptr<rpc::AcceptedCall> call, const grpc::Status& status) {
    (new RejectedStream(std::move(call)))->Finish(status);
  }

 private:
  explicit RejectedStream(std::unique_ptr<rpc::AcceptedCall> call)
      : rpc::AsyncServerStream(std::move(call)) {}
  void OnReadDone(bool) override {}
  void OnWriteDone(bool) override {}
  void OnDone() override { delete this; }
};

std::string Metadata(const grpc::ServerContext& context, const std::string& key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(key);
  return it == metadata.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

// The agent the call's metadata authenticates, or UNAUTHENTICATED.
absl::StatusOr<record::AgentRecord> Authenticate(storage::Store& store,
                                                 const grpc::ServerContext& context) {
  const std::string id = Metadata(context, "x-fleet-agent-id");
  std::string authorization = Metadata(context, "authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (id.empty() || !authorization.starts_with(kScheme)) {
    return absl::UnauthenticatedError(
        "send x-fleet-agent-id and \"authorization: Bearer <agent secret>\" metadata");
  }
  absl::StatusOr<ParsedToken> secret =
      ParseToken(std::string_view(authorization).substr(kScheme.size()), kAgentSecretKind);
  if (!secret.ok()) return secret.status();
  if (secret->id != id) return absl::UnauthenticatedError("the secret is another agent's");
  absl::StatusOr<std::optional<StoredRecord<record::AgentRecord>>> stored =
      ReadRecord<record::AgentRecord>(store, layout::AgentKey(id));
  if (!stored.ok()) return absl::UnavailableError(std::string(stored.status().message()));
  if (!stored->has_value() || !SecretMatches(secret->secret, (*stored)->record.secret_sha256())) {
    return absl::UnauthenticatedError("unknown or unenrolled agent, or a wrong secret");
  }
  return std::move((*stored)->record);
}

}  // namespace

AgentService::AgentService(storage::Store& store, Clock& clock, AgentServiceOptions options)
    : store_(store),
      options_(options),
      enrollment_(store, clock),
      state_(store, clock, options.state) {}

absl::StatusOr<std::unique_ptr<AgentService>> AgentService::Create(storage::Store& store,
                                                                   Clock& clock,
                                                                   AgentServiceOptions options) {
  std::unique_ptr<AgentService> service(new AgentService(store, clock, options));
  absl::StatusOr<std::unique_ptr<AgentHub>> hub = AgentHub::Start(store);
  if (!hub.ok()) return hub.status();
  service->hub_ = *std::move(hub);
  absl::StatusOr<std::unique_ptr<PolicyEngine>> engine =
      PolicyEngine::Start(store, [hub = service->hub_.get()](const std::string& policy, int64_t) {
        hub->PolicyChanged(policy);
      });
  if (!engine.ok()) return engine.status();
  service->engine_ = *std::move(engine);
  return service;
}

grpc::Status AgentService::Enroll(grpc::ServerContext*, const v1::EnrollRequest* request,
                                  v1::EnrollResponse* response) {
  absl::StatusOr<v1::EnrollResponse> enrolled = enrollment_.Enroll(*request);
  if (!enrolled.ok()) return rpc::ToGrpcStatus(enrolled.status());
  *response = *std::move(enrolled);
  return grpc::Status::OK;
}

// One pending request for a Connect call on one queue; when it completes, the next is requested
// before the call is served.
class AgentService::ConnectRequest final : public rpc::CqTag {
 public:
  ConnectRequest(AgentService& service, grpc::ServerCompletionQueue* queue)
      : service_(service), queue_(queue), call_(std::make_unique<rpc::AcceptedCall>()) {
    service_.RequestConnect(&call_->context, &call_->stream, queue_, queue_, this);
  }

  void Done(bool ok) override {
    // Not ok: the server is shutting down and accepts no more calls.
    if (ok) {
      service_.RequestNextConnect(queue_);
      service_.Accept(std::move(call_));
    }
    delete this;
  }

 private:
  AgentService& service_;
  grpc::ServerCompletionQueue* const queue_;
  std::unique_ptr<rpc::AcceptedCall> call_;
};

void AgentService::AddQueuesTo(grpc::ServerBuilder& builder) {
  for (int i = 0; i < kConnectQueues; ++i) {
    new_queues_.push_back(builder.AddCompletionQueue());
    queues_.push_back(new_queues_.back().get());
  }
}

void AgentService::StartServing() {
  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues;
  for (auto& queue : new_queues_) queues.push_back(std::move(queue));
  new_queues_.clear();
  pool_ = std::make_unique<rpc::CqPool>(std::move(queues));
  for (grpc::ServerCompletionQueue* queue : queues_) RequestNextConnect(queue);
}

void AgentService::StopServing() {
  if (pool_ != nullptr) pool_->Shutdown();
}

void AgentService::RequestNextConnect(grpc::ServerCompletionQueue* queue) {
  new ConnectRequest(*this, queue);
}

void AgentService::Accept(std::unique_ptr<rpc::AcceptedCall> call) {
  absl::StatusOr<record::AgentRecord> agent = Authenticate(store_, call->context);
  if (!agent.ok()) {
    RejectedStream::Start(std::move(call), rpc::ToGrpcStatus(agent.status()));
    return;
  }
  const std::string agent_id = agent->agent().id();
  AgentSession::Start(
      AgentSessionDeps{.protocol = {.updates = *engine_,
                                    .state = state_,
                                    .heartbeat_interval = options_.heartbeat_interval},
                       .hub = *hub_},
      std::move(call), agent_id, agent->agent().policy());
  // An unenrollment or reassignment between reading the record and registering the session
  // would otherwise go unseen.
  hub_->RecheckAgent(agent_id);
}

void AgentService::GoAway() { hub_->CloseAll(); }

}  // namespace fleet::server
