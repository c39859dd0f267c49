#include "server/agent/agent_service.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "common/log_fields.h"
#include "common/utf8.h"
#include "rpc/grpc_status.h"
#include "rpc/peer_certificate.h"
#include "server/agent/agent_certificate.h"
#include "server/model/secret_token.h"
#include "spdlog/spdlog.h"

namespace fleet::server {
namespace {

// How many completion queues (each with a thread) serve Connect streams: enough that each queue's
// outstanding operations stay a few thousand with 100,000 agents.
constexpr int kConnectQueues = 32;
// How long shutting down waits for the cancelled Connect streams to end (they take milliseconds).
constexpr absl::Duration kCallsEndTimeout = absl::Seconds(20);
// How long Enroll waits for the agent directory to see the new agent.
constexpr absl::Duration kDirectoryCatchUp = absl::Seconds(5);
// Any client can fail to authenticate at will: at most one line per this interval says so.
constexpr absl::Duration kRefusalLogInterval = absl::Seconds(10);
// Claimed agent ids are the client's: the line shows at most this much of one.
constexpr size_t kMaxLoggedIdBytes = 64;

// fleetd_enrollments_total's result label: "ok", or the refusal's code ("unauthenticated").
std::string EnrollmentResult(const absl::Status& status) {
  return absl::AsciiStrToLower(absl::StatusCodeToString(status.code()));
}

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

// The agent the call's metadata (and client certificate, with mTLS) authenticates (its id, and
// what the directory knows of it), from the directory (no store read: this runs on a
// completion-queue thread). UNAUTHENTICATED, or UNAVAILABLE while the directory is not synced.
absl::StatusOr<std::pair<std::string, AuthenticatedAgent>> Authenticate(
    AgentDirectory& directory, const grpc::ServerContext& context) {
  const std::string id = Metadata(context, "x-fleet-agent-id");
  std::string authorization = Metadata(context, "authorization");
  constexpr std::string_view kScheme = "Bearer ";
  if (id.empty() || !authorization.starts_with(kScheme)) {
    return absl::UnauthenticatedError(
        "send x-fleet-agent-id and \"authorization: Bearer <agent secret>\" metadata");
  }
  // Checked before the secret: a stolen secret is no use without the agent's certificate.
  if (absl::Status named =
          CheckAgentCertificate(rpc::PeerCertificateOf(*context.auth_context()), id);
      !named.ok()) {
    return named;
  }
  absl::StatusOr<ParsedToken> secret =
      ParseToken(std::string_view(authorization).substr(kScheme.size()), kAgentSecretKind);
  if (!secret.ok()) return secret.status();
  if (secret->id != id) return absl::UnauthenticatedError("the secret is another agent's");
  absl::StatusOr<AuthenticatedAgent> agent = directory.Authenticate(id, secret->secret);
  if (!agent.ok()) return agent.status();
  return std::pair(id, *std::move(agent));
}

}  // namespace

AgentService::AgentService(storage::Store& store, Clock& clock, const AgentControl& control,
                           AgentServiceOptions options)
    : clock_(clock),
      control_(control),
      options_(options),
      metrics_(metrics::RegistryOr(options.metrics, own_metrics_)),
      enrollment_(store, clock),
      refused_streams_(clock, kRefusalLogInterval),
      credentials_(store, clock, control.directory) {}

grpc::Status AgentService::Enroll(grpc::ServerContext*, const v1::EnrollRequest* request,
                                  v1::EnrollResponse* response) {
  absl::StatusOr<v1::EnrollResponse> enrolled = enrollment_.Enroll(*request);
  metrics_.enrollments.WithLabels({EnrollmentResult(enrolled.status())}).Increment();
  if (!enrolled.ok()) return rpc::ToGrpcStatus(enrolled.status());
  // The agent connects next, and Connect authenticates against the directory: wait until it
  // knows the agent (it follows the store within milliseconds). The enrollment is committed
  // whatever happens here, so the credentials go back even if the wait times out: withholding
  // them would spend a token use on an agent nobody can ever connect as.
  control_.directory.WaitForAgent(enrolled->agent_id(), kDirectoryCatchUp);
  *response = *std::move(enrolled);
  return grpc::Status::OK;
}

// One pending request for a Connect call on one queue; when it completes, the next is requested
// before the call is served.
class AgentService::ConnectRequest final : public rpc::CqTag {
 public:
  ConnectRequest(AgentService& service, grpc::ServerCompletionQueue* queue)
      : service_(service),
        queue_(queue),
        call_(std::make_unique<rpc::AcceptedCall>(service.live_calls_)) {
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
  if (pool_ == nullptr) return;
  // The server has cancelled every call; their last operations complete on the queues, which
  // must run until every session has ended (live_calls.h).
  if (const int64_t left = live_calls_.AwaitNone(kCallsEndTimeout); left > 0) {
    LogEvent(spdlog::level::err, "agent streams still open at shutdown",
             {{"streams", left}, {"waited", absl::FormatDuration(kCallsEndTimeout)}});
  }
  pool_->Shutdown();
}

void AgentService::RequestNextConnect(grpc::ServerCompletionQueue* queue) {
  new ConnectRequest(*this, queue);
}

void AgentService::Accept(std::unique_ptr<rpc::AcceptedCall> call) {
  absl::StatusOr<std::pair<std::string, AuthenticatedAgent>> agent =
      Authenticate(control_.directory, call->context);
  if (!agent.ok()) {
    if (std::optional<int64_t> suppressed = refused_streams_.Admit()) {
      const bool unauthenticated = agent.status().code() == absl::StatusCode::kUnauthenticated;
      // The reason says what was wrong with the credentials, never the secret.
      const std::string reason(agent.status().message());
      const std::string claimed = Metadata(call->context, "x-fleet-agent-id");
      LogEvent(spdlog::level::warn,
               unauthenticated ? "agent authentication failed" : "agent stream refused",
               {{"reason", reason},
                {"agent_id", TruncateUtf8(claimed, kMaxLoggedIdBytes)},
                {"peer", call->context.peer()},
                {"suppressed", *suppressed}});
    }
    RejectedStream::Start(std::move(call), rpc::ToGrpcStatus(agent.status()));
    return;
  }
  auto& [agent_id, found] = *agent;
  metrics_.streams_opened.Increment();
  AgentSession::Start(
      AgentSessionDeps{.protocol = {.updates = control_.updates,
                                    .state = control_.state,
                                    .clock = clock_,
                                    .heartbeat_interval = options_.heartbeat_interval,
                                    .metrics = &metrics_,
                                    .credential_max_age = options_.credential_max_age,
                                    .mailbox = control_.mailbox,
                                    .actions = control_.actions,
                                    .queries = control_.queries},
                       .hub = control_.hub,
                       .credentials = credentials_},
      std::move(call), agent_id, found.policy,
      StreamCredentials{.pending_sha256 = std::move(found.pending_sha256),
                        .rotation_requested = found.rotation_requested,
                        .secret_issued_at = found.secret_issued_at});
  // An unenrollment or reassignment between the lookup and registering the session would
  // otherwise go unseen.
  control_.hub.RecheckAgent(agent_id);
}

void AgentService::GoAway() { control_.hub.CloseAll(); }

}  // namespace fleet::server
