#include "server/agent_service.h"

#include <string>
#include <utility>

#include "server/grpc_status.h"
#include "server/record_io.h"
#include "server/records.pb.h"
#include "server/secret_token.h"
#include "server/store_layout.h"

namespace fleet::server {
namespace {

// A stream refused before it started.
class RejectedStream final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit RejectedStream(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

std::string Metadata(const grpc::CallbackServerContext& context, const std::string& key) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(key);
  return it == metadata.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

// The agent the call's metadata authenticates, or UNAUTHENTICATED.
absl::StatusOr<record::AgentRecord> Authenticate(storage::Store& store,
                                                 const grpc::CallbackServerContext& context) {
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
  if (!enrolled.ok()) return ToGrpcStatus(enrolled.status());
  *response = *std::move(enrolled);
  return grpc::Status::OK;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* AgentService::Connect(
    grpc::CallbackServerContext* context) {
  absl::StatusOr<record::AgentRecord> agent = Authenticate(store_, *context);
  if (!agent.ok()) return new RejectedStream(ToGrpcStatus(agent.status()));
  AgentSession* session =
      AgentSession::Start(AgentSessionDeps{.engine = *engine_,
                                           .hub = *hub_,
                                           .state = state_,
                                           .heartbeat_interval = options_.heartbeat_interval},
                          agent->agent().id(), agent->agent().policy());
  // An unenrollment or reassignment between reading the record and registering the session
  // would otherwise go unseen.
  hub_->RecheckAgent(agent->agent().id());
  return session;
}

void AgentService::GoAway() { hub_->CloseAll(); }

}  // namespace fleet::server
