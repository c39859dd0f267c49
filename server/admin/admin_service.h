// fleet.v1.AdminService (proto/fleet/v1/admin.proto): authenticates each call's bearer token,
// checks the role the RPC needs, and hands the request to the service that owns it. The sync
// gRPC API on purpose: admin calls are few and each may wait on a durable store write, which is
// what the sync server's thread pool is for (the agent API, with its many streams, is different).
#ifndef FLEETD_SERVER_ADMIN_ADMIN_SERVICE_H_
#define FLEETD_SERVER_ADMIN_ADMIN_SERVICE_H_

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/log_rate_limiter.h"
#include "fleet/v1/admin.grpc.pb.h"
#include "server/admin/action_service.h"
#include "server/admin/admin_auth.h"
#include "server/admin/admin_token_service.h"
#include "server/admin/agent_registry.h"
#include "server/admin/audit_log.h"
#include "server/admin/enrollment_token_service.h"
#include "server/admin/policy_service.h"
#include "server/admin/query_service.h"
#include "server/admin/rollout_status.h"
#include "server/control/agent_directory.h"
#include "server/control/agent_state.h"
#include "server/control/rollout_tracker.h"
#include "storage/store.h"

namespace fleet::server {

struct AdminServiceOptions {
  std::string store_backend;  // for VersionResponse: "rocksdb", "memory", ...
  PolicyOptions policy;
  // The agents' heartbeat interval and how stale an agent's last-seen time may be beyond it, to
  // tell online from offline agents (OfflineAfter() in server/model/agent_status_view.h).
  absl::Duration heartbeat_interval = absl::Seconds(30);
  absl::Duration last_seen_lag = absl::ZeroDuration();
};

// What the admin API reads from the control layer: the agents' assignments and live state, and
// the rollouts' counts. All of it outlives the service.
struct AdminControl {
  AgentDirectory& directory;
  AgentStateTracker& state;
  RolloutTracker& rollouts;
  // The actions (null: the action RPCs answer UNAVAILABLE).
  ActionEngine* actions = nullptr;
  // Live queries (null: RunQuery answers UNAVAILABLE).
  QueryRouter* queries = nullptr;
};

// Thread-safe: gRPC calls the handlers concurrently.
class AdminService final : public v1::AdminService::Service {
 public:
  // `store`, `clock` and `control` must outlive every call: shut the grpc::Server down first.
  AdminService(storage::Store& store, Clock& clock, const AdminControl& control,
               AdminServiceOptions options);

  grpc::Status Version(grpc::ServerContext* context, const v1::VersionRequest* request,
                       v1::VersionResponse* response) override;
  grpc::Status WhoAmI(grpc::ServerContext* context, const v1::WhoAmIRequest* request,
                      v1::WhoAmIResponse* response) override;
  grpc::Status ApplyPolicy(grpc::ServerContext* context, const v1::ApplyPolicyRequest* request,
                           v1::ApplyPolicyResponse* response) override;
  grpc::Status GetPolicy(grpc::ServerContext* context, const v1::GetPolicyRequest* request,
                         v1::Policy* response) override;
  grpc::Status ListPolicies(grpc::ServerContext* context, const v1::ListPoliciesRequest* request,
                            v1::ListPoliciesResponse* response) override;
  grpc::Status DeletePolicy(grpc::ServerContext* context, const v1::DeletePolicyRequest* request,
                            v1::DeletePolicyResponse* response) override;
  grpc::Status GetPolicyHistory(grpc::ServerContext* context,
                                const v1::GetPolicyHistoryRequest* request,
                                v1::GetPolicyHistoryResponse* response) override;
  grpc::Status DiffPolicy(grpc::ServerContext* context, const v1::DiffPolicyRequest* request,
                          v1::DiffPolicyResponse* response) override;
  grpc::Status RollbackPolicy(grpc::ServerContext* context,
                              const v1::RollbackPolicyRequest* request,
                              v1::ApplyPolicyResponse* response) override;
  grpc::Status CreateEnrollmentToken(grpc::ServerContext* context,
                                     const v1::CreateEnrollmentTokenRequest* request,
                                     v1::CreateEnrollmentTokenResponse* response) override;
  grpc::Status ListEnrollmentTokens(grpc::ServerContext* context,
                                    const v1::ListEnrollmentTokensRequest* request,
                                    v1::ListEnrollmentTokensResponse* response) override;
  grpc::Status RevokeEnrollmentToken(grpc::ServerContext* context,
                                     const v1::RevokeEnrollmentTokenRequest* request,
                                     v1::RevokeEnrollmentTokenResponse* response) override;
  grpc::Status ListAgents(grpc::ServerContext* context, const v1::ListAgentsRequest* request,
                          v1::ListAgentsResponse* response) override;
  grpc::Status GetAgent(grpc::ServerContext* context, const v1::GetAgentRequest* request,
                        v1::Agent* response) override;
  grpc::Status UnenrollAgent(grpc::ServerContext* context, const v1::UnenrollAgentRequest* request,
                             v1::UnenrollAgentResponse* response) override;
  grpc::Status ReassignAgent(grpc::ServerContext* context, const v1::ReassignAgentRequest* request,
                             v1::Agent* response) override;
  grpc::Status SetAgentLabels(grpc::ServerContext* context,
                              const v1::SetAgentLabelsRequest* request,
                              v1::Agent* response) override;
  grpc::Status RotateAgentCredentials(grpc::ServerContext* context,
                                      const v1::RotateAgentCredentialsRequest* request,
                                      v1::RotateAgentCredentialsResponse* response) override;
  grpc::Status UnenrollAgents(grpc::ServerContext* context,
                              const v1::UnenrollAgentsRequest* request,
                              v1::AgentChangesResponse* response) override;
  grpc::Status ReassignAgents(grpc::ServerContext* context,
                              const v1::ReassignAgentsRequest* request,
                              v1::AgentChangesResponse* response) override;
  grpc::Status LabelAgents(grpc::ServerContext* context, const v1::LabelAgentsRequest* request,
                           v1::AgentChangesResponse* response) override;
  grpc::Status CreateAdminToken(grpc::ServerContext* context,
                                const v1::CreateAdminTokenRequest* request,
                                v1::CreateAdminTokenResponse* response) override;
  grpc::Status ListAdminTokens(grpc::ServerContext* context,
                               const v1::ListAdminTokensRequest* request,
                               v1::ListAdminTokensResponse* response) override;
  grpc::Status RevokeAdminToken(grpc::ServerContext* context,
                                const v1::RevokeAdminTokenRequest* request,
                                v1::RevokeAdminTokenResponse* response) override;
  grpc::Status GetRolloutStatus(grpc::ServerContext* context,
                                const v1::GetRolloutStatusRequest* request,
                                v1::RolloutStatus* response) override;
  grpc::Status WatchRolloutStatus(grpc::ServerContext* context,
                                  const v1::GetRolloutStatusRequest* request,
                                  grpc::ServerWriter<v1::RolloutStatus>* writer) override;
  grpc::Status RunQuery(grpc::ServerContext* context, const v1::RunQueryRequest* request,
                        grpc::ServerWriter<v1::QueryEvent>* writer) override;
  grpc::Status CreateAction(grpc::ServerContext* context, const v1::CreateActionRequest* request,
                            v1::Action* response) override;
  grpc::Status GetAction(grpc::ServerContext* context, const v1::GetActionRequest* request,
                         v1::Action* response) override;
  grpc::Status ListActions(grpc::ServerContext* context, const v1::ListActionsRequest* request,
                           v1::ListActionsResponse* response) override;
  grpc::Status CancelAction(grpc::ServerContext* context, const v1::CancelActionRequest* request,
                            v1::Action* response) override;
  grpc::Status WatchAction(grpc::ServerContext* context, const v1::GetActionRequest* request,
                           grpc::ServerWriter<v1::Action>* writer) override;
  grpc::Status ListActionTargets(grpc::ServerContext* context,
                                 const v1::ListActionTargetsRequest* request,
                                 v1::ListActionTargetsResponse* response) override;

  AdminTokenService& admin_tokens() { return admin_tokens_; }

  // fleetd is shutting down: the watches open now (WatchAction, WatchRolloutStatus) and any
  // started later end at once with UNAVAILABLE, which their callers take as "reconnect" (to this
  // fleetd once it is back, or to another replica), rather than when the server's grace is up.
  void EndWatches() { ending_watches_.store(true); }

 private:
  // An RPC that writes: its name, and what it acted on, asked once the call is done (so that it
  // can name what the call created).
  struct Mutation {
    std::string_view rpc;
    std::function<AuditTarget()> target;
  };

  // Authenticates the call, checks `role`, runs `body` with the caller, and turns its status into
  // the call's. Authentication failures are logged, at most one line per interval.
  grpc::Status Handle(grpc::ServerContext* context, v1::Role role,
                      const std::function<absl::Status(const Principal&)>& body);
  // Handle, and once the caller is authenticated, one audit line (audit_log.h) with the result,
  // a refused role included.
  grpc::Status Handle(grpc::ServerContext* context, v1::Role role, const Mutation& mutation,
                      const std::function<absl::Status(const Principal&)>& body);
  // Runs `watch` with a stop function true once the caller went or EndWatches was called; a watch
  // that the latter stopped (not one that ended by itself, e.g. its action done) is UNAVAILABLE
  // for the caller.
  absl::Status Watching(const grpc::ServerContext& context,
                        const std::function<absl::Status(const std::function<bool()>&)>& watch);
  // Handle's work; `mutation` is null for a read.
  grpc::Status Serve(grpc::ServerContext* context, v1::Role role, const Mutation* mutation,
                     const std::function<absl::Status(const Principal&)>& body);

  storage::Store& store_;  // not owned
  const std::string store_backend_;
  LogRateLimiter auth_failures_;
  AdminAuthenticator auth_;
  PolicyService policies_;
  EnrollmentTokenService enrollment_tokens_;
  AdminTokenService admin_tokens_;
  AgentRegistry agents_;
  RolloutStatusService rollouts_;
  std::unique_ptr<QueryService> queries_;  // null without a router
  // Set when the control layer has an action engine.
  std::optional<ActionService> actions_;
  // Runs `body` with the action service, or answers UNAVAILABLE without one.
  absl::Status WithActions(const std::function<absl::Status(ActionService&)>& body);
  std::atomic<bool> ending_watches_{false};
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_ADMIN_SERVICE_H_
