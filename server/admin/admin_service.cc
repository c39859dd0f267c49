#include "server/admin/admin_service.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log_fields.h"
#include "common/utf8.h"
#include "nlohmann/json.hpp"
#include "rpc/grpc_status.h"
#include "server/model/agent_status_view.h"
#include "spdlog/spdlog.h"

namespace fleet::server {
namespace {

// A client can fail authentication at will: at most one line per this interval says so.
constexpr absl::Duration kAuthFailureLogInterval = absl::Seconds(10);

// Moves a successful result into the response, or passes the error on.
template <typename T>
absl::Status Assign(absl::StatusOr<T> result, T* response) {
  if (!result.ok()) return result.status();
  *response = *std::move(result);
  return absl::OkStatus();
}

// The target of a call that creates `prefix`+ID: the new id once created; `otherwise` when the
// call failed before there was one.
AuditTarget CreatedTarget(std::string_view prefix, const std::string& id, std::string otherwise) {
  if (id.empty()) return AuditTarget{std::move(otherwise)};
  return AuditTarget{absl::StrCat(std::string(prefix), id)};
}

// What a call about many agents names, for its audit line: the agent, the ids, the selector or
// every agent (AuditLine cuts a long list).
AuditTarget AgentsTarget(const google::protobuf::RepeatedPtrField<std::string>& ids,
                         const std::string& selector, bool all, bool dry_run) {
  if (all) return AuditTarget{"agents/all", dry_run};
  if (!selector.empty()) return AuditTarget{"agents/selector=" + selector, dry_run};
  if (ids.size() == 1) return AuditTarget{"agent/" + ids[0], dry_run};
  return AuditTarget{absl::StrCat("agents/", absl::StrJoin(ids, ",")), dry_run};
}

AuditTarget RotationTarget(const v1::RotateAgentCredentialsRequest& request) {
  return AgentsTarget(request.ids(), request.selector(), request.all(), request.dry_run());
}

AuditTarget SelectionTarget(const v1::AgentSelection& agents, bool dry_run) {
  return AgentsTarget(agents.ids(), agents.selector(), /*all=*/false, dry_run);
}

}  // namespace

AdminService::AdminService(storage::Store& store, Clock& clock, const AdminControl& control,
                           AdminServiceOptions options)
    : store_(store),
      store_backend_(std::move(options.store_backend)),
      auth_failures_(clock, kAuthFailureLogInterval),
      auth_(store),
      policies_(store, clock, options.policy, control.directory),
      enrollment_tokens_(store, clock),
      admin_tokens_(store, clock),
      agents_(store, clock, control.state,
              OfflineAfter(options.heartbeat_interval, options.last_seen_lag)),
      rollouts_(store, control.rollouts),
      queries_(
          control.queries == nullptr
              ? nullptr
              : std::make_unique<QueryService>(store, clock, control.directory, *control.queries)) {
  if (control.actions != nullptr) {
    actions_.emplace(store, clock, control.directory, *control.actions);
  }
}

absl::Status AdminService::WithActions(const std::function<absl::Status(ActionService&)>& body) {
  if (!actions_.has_value()) return absl::UnavailableError("this fleetd serves no actions");
  return body(*actions_);
}

grpc::Status AdminService::Handle(grpc::ServerContext* context, v1::Role role,
                                  const std::function<absl::Status(const Principal&)>& body) {
  return Serve(context, role, nullptr, body);
}

grpc::Status AdminService::Handle(grpc::ServerContext* context, v1::Role role,
                                  const Mutation& mutation,
                                  const std::function<absl::Status(const Principal&)>& body) {
  return Serve(context, role, &mutation, body);
}

grpc::Status AdminService::Serve(grpc::ServerContext* context, v1::Role role,
                                 const Mutation* mutation,
                                 const std::function<absl::Status(const Principal&)>& body) {
  std::string authorization;
  const auto& metadata = context->client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization.assign(it->second.data(), it->second.size());
  }
  absl::StatusOr<Principal> principal = auth_.Authenticate(authorization);
  if (!principal.ok()) {
    // The message says what was wrong with the token, never the token.
    if (std::optional<int64_t> suppressed = auth_failures_.Admit()) {
      const std::string reason(principal.status().message());
      const std::string peer = context->peer();
      std::vector<LogField> fields = {{"reason", reason}, {"peer", peer}};
      if (mutation != nullptr) fields.emplace_back("rpc", mutation->rpc);
      fields.emplace_back("suppressed", *suppressed);
      LogEvent(spdlog::level::warn, "admin authentication failed", fields);
    }
    return rpc::ToGrpcStatus(principal.status());
  }
  absl::Status result = AdminAuthenticator::Require(*principal, role);
  // No exception may leave a handler: gRPC would answer UNKNOWN, which tells the client nothing.
  // JSON is only ever parsed and printed here from what the request carries.
  if (result.ok()) {
    try {
      result = body(*principal);
    } catch (const nlohmann::json::exception& e) {
      result = absl::InvalidArgumentError(
          absl::StrCat("the request's JSON cannot be handled: ", QuoteForError(e.what())));
    } catch (const std::exception& e) {
      spdlog::error("an admin call failed with an exception: {}", e.what());
      result = absl::InternalError(
          absl::StrCat("fleetd failed on this request: ", QuoteForError(e.what())));
    }
  }
  if (mutation != nullptr) {
    AuditLine(mutation->rpc, *principal, mutation->target(), result, store_.CurrentRevision())
        .Log();
  }
  return rpc::ToGrpcStatus(result);
}

grpc::Status AdminService::Version(grpc::ServerContext* context, const v1::VersionRequest*,
                                   v1::VersionResponse* response) {
  return Handle(context, v1::ROLE_VIEWER, [&](const Principal&) {
    response->set_server_version(FLEETD_VERSION);
    response->set_store_revision(store_.CurrentRevision());
    response->set_store_backend(store_backend_);
    return absl::OkStatus();
  });
}

grpc::Status AdminService::WhoAmI(grpc::ServerContext* context, const v1::WhoAmIRequest*,
                                  v1::WhoAmIResponse* response) {
  return Handle(context, v1::ROLE_VIEWER, [&](const Principal& principal) {
    response->set_token_id(principal.token_id);
    response->set_role(principal.role);
    response->set_description(principal.description);
    return absl::OkStatus();
  });
}

grpc::Status AdminService::ApplyPolicy(grpc::ServerContext* context,
                                       const v1::ApplyPolicyRequest* request,
                                       v1::ApplyPolicyResponse* response) {
  return Handle(context, v1::ROLE_OPERATOR,
                Mutation{"ApplyPolicy",
                         [&] {
                           return AuditTarget{"policy/" + request->name(), request->dry_run()};
                         }},
                [&](const Principal& principal) {
                  return Assign(policies_.Apply(*request, principal.Author(), principal.Creator()),
                                response);
                });
}

grpc::Status AdminService::GetPolicy(grpc::ServerContext* context,
                                     const v1::GetPolicyRequest* request, v1::Policy* response) {
  return Handle(context, v1::ROLE_VIEWER,
                [&](const Principal&) { return Assign(policies_.Get(*request), response); });
}

grpc::Status AdminService::ListPolicies(grpc::ServerContext* context,
                                        const v1::ListPoliciesRequest* request,
                                        v1::ListPoliciesResponse* response) {
  return Handle(context, v1::ROLE_VIEWER, [&](const Principal&) {
    if (absl::Status s = Assign(policies_.List(*request), response); !s.ok()) return s;
    for (const v1::Policy& policy : response->policies()) {
      *response->add_rollouts() =
          rollouts_.Status(policy.name(), policy.revision(), policy.revision());
    }
    return absl::OkStatus();
  });
}

grpc::Status AdminService::DeletePolicy(grpc::ServerContext* context,
                                        const v1::DeletePolicyRequest* request,
                                        v1::DeletePolicyResponse* response) {
  return Handle(context, v1::ROLE_OPERATOR,
                Mutation{"DeletePolicy", [&] { return AuditTarget{"policy/" + request->name()}; }},
                [&](const Principal&) { return Assign(policies_.Delete(*request), response); });
}

grpc::Status AdminService::GetPolicyHistory(grpc::ServerContext* context,
                                            const v1::GetPolicyHistoryRequest* request,
                                            v1::GetPolicyHistoryResponse* response) {
  return Handle(context, v1::ROLE_VIEWER,
                [&](const Principal&) { return Assign(policies_.History(*request), response); });
}

grpc::Status AdminService::DiffPolicy(grpc::ServerContext* context,
                                      const v1::DiffPolicyRequest* request,
                                      v1::DiffPolicyResponse* response) {
  return Handle(context, v1::ROLE_VIEWER,
                [&](const Principal&) { return Assign(policies_.Diff(*request), response); });
}

grpc::Status AdminService::RollbackPolicy(grpc::ServerContext* context,
                                          const v1::RollbackPolicyRequest* request,
                                          v1::ApplyPolicyResponse* response) {
  return Handle(
      context, v1::ROLE_OPERATOR,
      Mutation{"RollbackPolicy", [&] { return AuditTarget{"policy/" + request->name()}; }},
      [&](const Principal& principal) {
        return Assign(policies_.Rollback(*request, principal.Author(), principal.Creator()),
                      response);
      });
}

grpc::Status AdminService::CreateEnrollmentToken(grpc::ServerContext* context,
                                                 const v1::CreateEnrollmentTokenRequest* request,
                                                 v1::CreateEnrollmentTokenResponse* response) {
  return Handle(context, v1::ROLE_OPERATOR,
                Mutation{"CreateEnrollmentToken",
                         [&] {
                           return CreatedTarget("enrollment-token/", response->token().id(),
                                                "policy/" + request->policy());
                         }},
                [&](const Principal& principal) {
                  return Assign(
                      enrollment_tokens_.Create(*request, principal.Author(), principal.Creator()),
                      response);
                });
}

grpc::Status AdminService::ListEnrollmentTokens(grpc::ServerContext* context,
                                                const v1::ListEnrollmentTokensRequest* request,
                                                v1::ListEnrollmentTokensResponse* response) {
  return Handle(context, v1::ROLE_VIEWER, [&](const Principal&) {
    return Assign(enrollment_tokens_.List(*request), response);
  });
}

grpc::Status AdminService::RevokeEnrollmentToken(grpc::ServerContext* context,
                                                 const v1::RevokeEnrollmentTokenRequest* request,
                                                 v1::RevokeEnrollmentTokenResponse*) {
  return Handle(context, v1::ROLE_OPERATOR,
                Mutation{"RevokeEnrollmentToken",
                         [&] { return AuditTarget{"enrollment-token/" + request->id()}; }},
                [&](const Principal&) { return enrollment_tokens_.Revoke(*request); });
}

grpc::Status AdminService::ListAgents(grpc::ServerContext* context,
                                      const v1::ListAgentsRequest* request,
                                      v1::ListAgentsResponse* response) {
  return Handle(context, v1::ROLE_VIEWER,
                [&](const Principal&) { return Assign(agents_.List(*request), response); });
}

grpc::Status AdminService::GetAgent(grpc::ServerContext* context,
                                    const v1::GetAgentRequest* request, v1::Agent* response) {
  return Handle(context, v1::ROLE_VIEWER,
                [&](const Principal&) { return Assign(agents_.Get(*request), response); });
}

grpc::Status AdminService::UnenrollAgent(grpc::ServerContext* context,
                                         const v1::UnenrollAgentRequest* request,
                                         v1::UnenrollAgentResponse*) {
  return Handle(context, v1::ROLE_OPERATOR,
                Mutation{"UnenrollAgent", [&] { return AuditTarget{"agent/" + request->id()}; }},
                [&](const Principal&) { return agents_.Unenroll(*request); });
}

grpc::Status AdminService::ReassignAgent(grpc::ServerContext* context,
                                         const v1::ReassignAgentRequest* request,
                                         v1::Agent* response) {
  return Handle(context, v1::ROLE_OPERATOR,
                Mutation{"ReassignAgent", [&] { return AuditTarget{"agent/" + request->id()}; }},
                [&](const Principal&) { return Assign(agents_.Reassign(*request), response); });
}

grpc::Status AdminService::SetAgentLabels(grpc::ServerContext* context,
                                          const v1::SetAgentLabelsRequest* request,
                                          v1::Agent* response) {
  return Handle(context, v1::ROLE_OPERATOR,
                Mutation{"SetAgentLabels", [&] { return AuditTarget{"agent/" + request->id()}; }},
                [&](const Principal&) { return Assign(agents_.SetLabels(*request), response); });
}

grpc::Status AdminService::RotateAgentCredentials(grpc::ServerContext* context,
                                                  const v1::RotateAgentCredentialsRequest* request,
                                                  v1::RotateAgentCredentialsResponse* response) {
  return Handle(
      context, v1::ROLE_OPERATOR,
      Mutation{"RotateAgentCredentials", [&] { return RotationTarget(*request); }},
      [&](const Principal&) { return Assign(agents_.RotateCredentials(*request), response); });
}

grpc::Status AdminService::UnenrollAgents(grpc::ServerContext* context,
                                          const v1::UnenrollAgentsRequest* request,
                                          v1::AgentChangesResponse* response) {
  return Handle(context, v1::ROLE_OPERATOR,
                Mutation{"UnenrollAgents",
                         [&] { return SelectionTarget(request->agents(), request->dry_run()); }},
                [&](const Principal&) { return Assign(agents_.UnenrollMany(*request), response); });
}

grpc::Status AdminService::ReassignAgents(grpc::ServerContext* context,
                                          const v1::ReassignAgentsRequest* request,
                                          v1::AgentChangesResponse* response) {
  return Handle(context, v1::ROLE_OPERATOR,
                Mutation{"ReassignAgents",
                         [&] { return SelectionTarget(request->agents(), request->dry_run()); }},
                [&](const Principal&) { return Assign(agents_.ReassignMany(*request), response); });
}

grpc::Status AdminService::LabelAgents(grpc::ServerContext* context,
                                       const v1::LabelAgentsRequest* request,
                                       v1::AgentChangesResponse* response) {
  return Handle(context, v1::ROLE_OPERATOR,
                Mutation{"LabelAgents",
                         [&] { return SelectionTarget(request->agents(), request->dry_run()); }},
                [&](const Principal&) { return Assign(agents_.LabelMany(*request), response); });
}

grpc::Status AdminService::CreateAdminToken(grpc::ServerContext* context,
                                            const v1::CreateAdminTokenRequest* request,
                                            v1::CreateAdminTokenResponse* response) {
  return Handle(
      context, v1::ROLE_ADMIN,
      Mutation{
          "CreateAdminToken",
          [&] { return CreatedTarget("admin-token/", response->token().id(), "admin-token/"); }},
      [&](const Principal& principal) {
        return Assign(admin_tokens_.Create(*request, principal.Author(), principal.Creator()),
                      response);
      });
}

grpc::Status AdminService::ListAdminTokens(grpc::ServerContext* context,
                                           const v1::ListAdminTokensRequest*,
                                           v1::ListAdminTokensResponse* response) {
  return Handle(context, v1::ROLE_ADMIN,
                [&](const Principal&) { return Assign(admin_tokens_.List(), response); });
}

grpc::Status AdminService::RevokeAdminToken(grpc::ServerContext* context,
                                            const v1::RevokeAdminTokenRequest* request,
                                            v1::RevokeAdminTokenResponse*) {
  return Handle(
      context, v1::ROLE_ADMIN,
      Mutation{"RevokeAdminToken", [&] { return AuditTarget{"admin-token/" + request->id()}; }},
      [&](const Principal&) { return admin_tokens_.Revoke(*request); });
}

grpc::Status AdminService::GetRolloutStatus(grpc::ServerContext* context,
                                            const v1::GetRolloutStatusRequest* request,
                                            v1::RolloutStatus* response) {
  return Handle(context, v1::ROLE_VIEWER,
                [&](const Principal&) { return Assign(rollouts_.Get(*request), response); });
}

grpc::Status AdminService::WatchRolloutStatus(grpc::ServerContext* context,
                                              const v1::GetRolloutStatusRequest* request,
                                              grpc::ServerWriter<v1::RolloutStatus>* writer) {
  return Handle(context, v1::ROLE_VIEWER, [&](const Principal&) {
    return Watching(*context, [&](const std::function<bool()>& stop) {
      return rollouts_.Watch(
          *request, [&](const v1::RolloutStatus& status) { return writer->Write(status); }, stop);
    });
  });
}

grpc::Status AdminService::CreateAction(grpc::ServerContext* context,
                                        const v1::CreateActionRequest* request,
                                        v1::Action* response) {
  return Handle(
      context, v1::ROLE_OPERATOR,
      Mutation{
          "CreateAction",
          [&] { return CreatedTarget("action/", response->id(), "action/" + request->type()); }},
      [&](const Principal& principal) {
        return WithActions([&](ActionService& actions) {
          return Assign(actions.Create(*request, principal.Creator()), response);
        });
      });
}

grpc::Status AdminService::GetAction(grpc::ServerContext* context,
                                     const v1::GetActionRequest* request, v1::Action* response) {
  return Handle(context, v1::ROLE_VIEWER, [&](const Principal&) {
    return WithActions(
        [&](ActionService& actions) { return Assign(actions.Get(*request), response); });
  });
}

grpc::Status AdminService::ListActions(grpc::ServerContext* context,
                                       const v1::ListActionsRequest* request,
                                       v1::ListActionsResponse* response) {
  return Handle(context, v1::ROLE_VIEWER, [&](const Principal&) {
    return WithActions(
        [&](ActionService& actions) { return Assign(actions.List(*request), response); });
  });
}

grpc::Status AdminService::CancelAction(grpc::ServerContext* context,
                                        const v1::CancelActionRequest* request,
                                        v1::Action* response) {
  return Handle(context, v1::ROLE_OPERATOR,
                Mutation{"CancelAction", [&] { return AuditTarget{"action/" + request->id()}; }},
                [&](const Principal&) {
                  return WithActions([&](ActionService& actions) {
                    return Assign(actions.Cancel(*request), response);
                  });
                });
}

grpc::Status AdminService::WatchAction(grpc::ServerContext* context,
                                       const v1::GetActionRequest* request,
                                       grpc::ServerWriter<v1::Action>* writer) {
  return Handle(context, v1::ROLE_VIEWER, [&](const Principal&) {
    return WithActions([&](ActionService& actions) {
      return Watching(*context, [&](const std::function<bool()>& stop) {
        return actions.Watch(
            *request, [&](const v1::Action& action) { return writer->Write(action); }, stop);
      });
    });
  });
}

grpc::Status AdminService::ListActionTargets(grpc::ServerContext* context,
                                             const v1::ListActionTargetsRequest* request,
                                             v1::ListActionTargetsResponse* response) {
  return Handle(context, v1::ROLE_VIEWER, [&](const Principal&) {
    return WithActions(
        [&](ActionService& actions) { return Assign(actions.ListTargets(*request), response); });
  });
}

absl::Status AdminService::Watching(
    const grpc::ServerContext& context,
    const std::function<absl::Status(const std::function<bool()>&)>& watch) {
  bool shutting_down = false;  // the shutdown, not the caller or the watch itself, ended it
  absl::Status watched = watch([&] {
    if (context.IsCancelled()) return true;
    shutting_down = ending_watches_.load();
    return shutting_down;
  });
  if (watched.ok() && shutting_down) {
    return absl::UnavailableError(
        "fleetd is shutting down; watch again once it (or another replica) serves");
  }
  return watched;
}

grpc::Status AdminService::RunQuery(grpc::ServerContext* context,
                                    const v1::RunQueryRequest* request,
                                    grpc::ServerWriter<v1::QueryEvent>* writer) {
  return Handle(context, v1::ROLE_OPERATOR, [&](const Principal&) {
    if (queries_ == nullptr) return absl::UnavailableError("this fleetd runs no live queries");
    return queries_->Run(
        *request, [&](const v1::QueryEvent& event) { return writer->Write(event); },
        [&] { return context->IsCancelled(); });
  });
}

}  // namespace fleet::server
