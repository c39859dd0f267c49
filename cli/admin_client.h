// fleetctl's connection to fleetd's admin API: one channel, one method per AdminService RPC,
// each sending the admin token as `authorization: Bearer <token>` and with a deadline, errors
// turned into messages an operator can act on.
#ifndef FLEETD_CLI_ADMIN_CLIENT_H_
#define FLEETD_CLI_ADMIN_CLIENT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fleet/v1/admin.grpc.pb.h"
#include "rpc/tls_credentials.h"

namespace fleet::cli {

// How long one unary RPC may take before it fails with DEADLINE_EXCEEDED (--request-timeout's
// default).
inline constexpr absl::Duration kDefaultRpcTimeout = absl::Seconds(10);

// Thread-safe.
class AdminClient {
 public:
  // Connects lazily: creating the client never fails or blocks; the first RPC reports an
  // unreachable fleetd. An empty `token` sends no authorization metadata; a token that is not
  // IsSendableToken is never sent (gRPC would abort, printing it): every RPC then fails with
  // UNAUTHENTICATED, without quoting it.
  static std::unique_ptr<AdminClient> Create(const std::string& address, const std::string& token,
                                             absl::Duration timeout = kDefaultRpcTimeout);
  // The same over TLS when `tls` is set (plaintext otherwise). INVALID_ARGUMENT naming the flag
  // when a TLS file does not load (rpc::CreateTlsChannel); a handshake that fails is an RPC's
  // UNAVAILABLE, its message saying what to pass (rpc::DescribeTlsFailure).
  static absl::StatusOr<std::unique_ptr<AdminClient>> Create(
      const std::string& address, const std::string& token,
      const std::optional<rpc::ClientTlsOptions>& tls, absl::Duration timeout = kDefaultRpcTimeout);

  // Each method calls the AdminService RPC of its name. Errors keep the gRPC code. The message
  // is the server's (written for operators, e.g. `policy "x" not found`), except UNAVAILABLE:
  // "cannot reach fleetd at ADDR: ...; is it running?" (or, when the TLS handshake failed, what
  // to do about it), DEADLINE_EXCEEDED: "fleetd at ADDR did not answer within 10s (see
  // --request-timeout)", UNIMPLEMENTED without a message: "ADDR answered but is not fleetd's
  // admin API (is it the agent port?)". INVALID_ARGUMENT is a UsageError (exit_codes.h), except
  // from ApplyPolicy, whose request comes from a file.
  absl::StatusOr<v1::VersionResponse> Version();
  absl::StatusOr<v1::WhoAmIResponse> WhoAmI();
  absl::StatusOr<v1::ApplyPolicyResponse> ApplyPolicy(const v1::ApplyPolicyRequest& request);
  absl::StatusOr<v1::Policy> GetPolicy(const v1::GetPolicyRequest& request);
  absl::StatusOr<v1::ListPoliciesResponse> ListPolicies(const v1::ListPoliciesRequest& request);
  absl::StatusOr<v1::DeletePolicyResponse> DeletePolicy(const v1::DeletePolicyRequest& request);
  absl::StatusOr<v1::GetPolicyHistoryResponse> GetPolicyHistory(
      const v1::GetPolicyHistoryRequest& request);
  absl::StatusOr<v1::DiffPolicyResponse> DiffPolicy(const v1::DiffPolicyRequest& request);
  absl::StatusOr<v1::ApplyPolicyResponse> RollbackPolicy(const v1::RollbackPolicyRequest& request);
  absl::StatusOr<v1::CreateEnrollmentTokenResponse> CreateEnrollmentToken(
      const v1::CreateEnrollmentTokenRequest& request);
  absl::StatusOr<v1::ListEnrollmentTokensResponse> ListEnrollmentTokens(
      const v1::ListEnrollmentTokensRequest& request);
  absl::StatusOr<v1::RevokeEnrollmentTokenResponse> RevokeEnrollmentToken(
      const v1::RevokeEnrollmentTokenRequest& request);
  absl::StatusOr<v1::ListAgentsResponse> ListAgents(const v1::ListAgentsRequest& request);
  absl::StatusOr<v1::Agent> GetAgent(const v1::GetAgentRequest& request);
  absl::StatusOr<v1::UnenrollAgentResponse> UnenrollAgent(const v1::UnenrollAgentRequest& request);
  absl::StatusOr<v1::Agent> ReassignAgent(const v1::ReassignAgentRequest& request);
  absl::StatusOr<v1::Agent> SetAgentLabels(const v1::SetAgentLabelsRequest& request);
  absl::StatusOr<v1::RotateAgentCredentialsResponse> RotateAgentCredentials(
      const v1::RotateAgentCredentialsRequest& request);
  absl::StatusOr<v1::AgentChangesResponse> UnenrollAgents(const v1::UnenrollAgentsRequest& request);
  absl::StatusOr<v1::AgentChangesResponse> ReassignAgents(const v1::ReassignAgentsRequest& request);
  absl::StatusOr<v1::AgentChangesResponse> LabelAgents(const v1::LabelAgentsRequest& request);
  absl::StatusOr<v1::CreateAdminTokenResponse> CreateAdminToken(
      const v1::CreateAdminTokenRequest& request);
  absl::StatusOr<v1::ListAdminTokensResponse> ListAdminTokens();
  absl::StatusOr<v1::RevokeAdminTokenResponse> RevokeAdminToken(
      const v1::RevokeAdminTokenRequest& request);
  absl::StatusOr<v1::RolloutStatus> GetRolloutStatus(const v1::GetRolloutStatusRequest& request);
  absl::StatusOr<v1::Action> CreateAction(const v1::CreateActionRequest& request);
  absl::StatusOr<v1::Action> GetAction(const v1::GetActionRequest& request);
  absl::StatusOr<v1::ListActionsResponse> ListActions(const v1::ListActionsRequest& request);
  absl::StatusOr<v1::Action> CancelAction(const v1::CancelActionRequest& request);
  absl::StatusOr<v1::ListActionTargetsResponse> ListActionTargets(
      const v1::ListActionTargetsRequest& request);

  // Calls WatchRolloutStatus and hands each status to `on_status` until it returns false (then
  // cancels the stream and returns OK), the stream fails, or `timeout` passes
  // (DEADLINE_EXCEEDED); absl::InfiniteDuration() waits forever. A stream the server ends
  // without error is UNAVAILABLE ("fleetd ended the watch").
  absl::Status WatchRolloutStatus(const v1::GetRolloutStatusRequest& request,
                                  absl::Duration timeout,
                                  const std::function<bool(const v1::RolloutStatus&)>& on_status);

  // Calls WatchAction, as WatchRolloutStatus does WatchRolloutStatus.
  absl::Status WatchAction(const v1::GetActionRequest& request, absl::Duration timeout,
                           const std::function<bool(const v1::Action&)>& on_action);

  // Calls RunQuery and hands each event to `on_event` until the server ends the stream (OK: the
  // query is over, its summary handed on last), `on_event` returns false (the stream is
  // cancelled, which ends the query on fleetd; OK), the stream fails, or `timeout` passes
  // (DEADLINE_EXCEEDED). Errors as the unary methods'.
  absl::Status RunQuery(const v1::RunQueryRequest& request, absl::Duration timeout,
                        const std::function<bool(const v1::QueryEvent&)>& on_event);

  const std::string& address() const { return address_; }

  // Whether `token` can go into gRPC metadata as is: only printable ASCII (0x20 to 0x7E).
  static bool IsSendableToken(std::string_view token);

 private:
  template <typename Request, typename Response>
  using UnaryMethod = grpc::Status (v1::AdminService::Stub::*)(grpc::ClientContext*, const Request&,
                                                               Response*);

  // Makes a new channel to fleetd.
  using Connect = std::function<absl::StatusOr<std::shared_ptr<grpc::Channel>>()>;

  AdminClient(std::string address, std::string token, absl::Duration timeout,
              std::optional<rpc::ClientTlsOptions> tls, Connect connect,
              std::shared_ptr<grpc::Channel> channel);

  // A status for a failed call, its message saying what the operator can do.
  absl::Status FromGrpc(const grpc::Status& status, absl::Duration timeout) const;

  // Prepares `context` with the token and a deadline `timeout` from now (none when infinite).
  // UNAUTHENTICATED, and `context` left without the token, when the token is not sendable.
  absl::Status SetUp(grpc::ClientContext& context, absl::Duration timeout) const;

  template <typename Request, typename Response>
  absl::StatusOr<Response> Call(UnaryMethod<Request, Response> method, const Request& request);

  // Reads a server stream that `open` starts on a prepared context, handing each message to
  // `on_message` until it returns false (cancelled, OK) or the stream ends. `ended_ok` is what a
  // stream the server ended without error returns.
  template <typename Request, typename Message>
  absl::Status ReadStream(const Request& request, absl::Duration timeout,
                          std::unique_ptr<grpc::ClientReader<Message>> (
                              v1::AdminService::Stub::*open)(grpc::ClientContext*, const Request&),
                          const std::function<bool(const Message&)>& on_message,
                          const absl::Status& ended_ok);

  const std::string address_;
  const std::string token_;
  const absl::Duration timeout_;
  const std::optional<rpc::ClientTlsOptions> tls_;  // nullopt: plaintext
  const Connect connect_;
  std::unique_ptr<v1::AdminService::Stub> stub_;
  // A stream broke for want of fleetd: the next one goes on a new channel. A channel that failed
  // to connect fails every call with that error until its own backoff lets it try again (seconds
  // after fleetd is back); a new one connects at once, so a watch riding out a restart resumes
  // on its first retry after fleetd serves again.
  bool new_channel_next_ = false;
};

}  // namespace fleet::cli

#endif  // FLEETD_CLI_ADMIN_CLIENT_H_
