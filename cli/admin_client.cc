#include "cli/admin_client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/address_list.h"
#include "cli/exit_codes.h"

namespace fleet::cli {
namespace {

// gRPC waits up to 120 s between attempts to reconnect a channel; a watch riding out a fleetd
// restart should notice it is back within seconds.
grpc::ChannelArguments ChannelArgs() {
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  // Its own connections: a new channel (AdminClient::new_channel_next_) must not share the old
  // one's, which waits out its backoff.
  arguments.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return arguments;
}

// What gRPC's "failed to connect to all addresses; last error: UNKNOWN: ipv4:...: Failed to
// connect to remote host: Connection refused" means, in a few words; the message itself when it
// is none of the common cases.
std::string DescribeUnreachable(const std::string& message) {
  for (const auto& [marker, meaning] :
       {std::pair("onnection refused", "connection refused"),
        std::pair("DNS resolution failed", "cannot resolve the host name"),
        std::pair("not known", "cannot resolve the host name"),
        std::pair("No route to host", "no route to host"),
        std::pair("Network is unreachable", "the network is unreachable"),
        std::pair("Socket closed", "the connection was closed"),
        std::pair("onnection reset", "the connection was reset")}) {
    if (absl::StrContains(message, marker)) return meaning;
  }
  return message;
}

}  // namespace

absl::Status AdminClient::FromGrpc(const grpc::Status& status, absl::Duration timeout) const {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE: {
      if (absl::StrContains(status.error_message(), "http1.x server")) {
        return absl::Status(code, absl::StrCat(address_,
                                               " answered HTTP/1, not gRPC: is it fleetd's HTTP "
                                               "endpoint (--http-addr)? fleetctl needs the admin "
                                               "API (--admin-addr)"));
      }
      // What fleetd says to the watches it ends as it shuts down, and gRPC to the calls a server
      // still has when its shutdown's grace is up: fleetd answered (so TLS or not is no
      // question) and is going, or restarting.
      if (absl::StrContains(status.error_message(), "fleetd is shutting down") ||
          absl::StrContains(status.error_message(), "Cancelling all calls")) {
        return absl::Status(
            code, absl::StrCat("fleetd at ", address_, " shut down during the call (restarting?)"));
      }
      if (tls_.has_value()) {
        if (std::string hint = rpc::DescribeTlsFailure(status.error_message(), *tls_);
            !hint.empty()) {
          // The hint says what to do; gRPC's own text would only repeat it in its words.
          return absl::Status(code,
                              absl::StrCat("TLS with fleetd at ", address_, " failed: ", hint));
        }
      } else if (!absl::StrContains(status.error_message(), "onnection refused")) {
        // Something answered and hung up: most likely a fleetd that serves TLS, which a
        // plaintext client cannot tell from a crash.
        return absl::Status(
            code, absl::StrCat("cannot reach fleetd at ", address_, ": ",
                               DescribeUnreachable(status.error_message()),
                               "; if fleetd serves TLS, pass --certificate-authority FILE (the CA "
                               "of its certificate)"));
      }
      return absl::Status(
          code, absl::StrCat("cannot reach fleetd at ", address_, ": ",
                             DescribeUnreachable(status.error_message()), "; is it running?"));
    }
    case grpc::StatusCode::CANCELLED:
      // fleetctl cancels no call it still waits on: a server that is shutting down refuses the
      // calls that reach it meanwhile so, with no more words than the code's name.
      return absl::Status(
          code, absl::StrCat("fleetd at ", address_, " cancelled the call (shutting down?)",
                             status.error_message().empty() || status.error_message() == "CANCELLED"
                                 ? ""
                                 : absl::StrCat(": ", status.error_message())));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::Status(code,
                          absl::StrCat("fleetd at ", address_, " did not answer within ",
                                       absl::FormatDuration(timeout),
                                       timeout == timeout_ ? " (see --request-timeout)" : ""));
    case grpc::StatusCode::UNIMPLEMENTED:
      // A gRPC server without the AdminService answers with no message at all: fleetd's agent
      // port, or another gRPC service.
      if (status.error_message().empty()) {
        return absl::Status(code, absl::StrCat(address_,
                                               " answered but is not fleetd's admin API (is it "
                                               "the agent port?)"));
      }
      return absl::Status(code, absl::StrCat("fleetd at ", address_,
                                             " does not know this request (is it older than "
                                             "fleetctl?): ",
                                             status.error_message()));
    case grpc::StatusCode::INVALID_ARGUMENT:
      // Requests are made of flags and arguments, except ApplyPolicy's (see there).
      return UsageError(status.error_message());
    default:
      return absl::Status(code, status.error_message());
  }
}

std::unique_ptr<AdminClient> AdminClient::Create(const std::string& address,
                                                 const std::string& token, absl::Duration timeout) {
  Connect connect = [target =
                         GrpcTarget(address)]() -> absl::StatusOr<std::shared_ptr<grpc::Channel>> {
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), ChannelArgs());
  };
  std::shared_ptr<grpc::Channel> channel = *connect();
  return std::unique_ptr<AdminClient>(new AdminClient(address, token, timeout, std::nullopt,
                                                      std::move(connect), std::move(channel)));
}

absl::StatusOr<std::unique_ptr<AdminClient>> AdminClient::Create(
    const std::string& address, const std::string& token,
    const std::optional<rpc::ClientTlsOptions>& tls, absl::Duration timeout) {
  if (!tls.has_value()) return Create(address, token, timeout);
  rpc::ClientTlsOptions options = *tls;
  if (options.server_name.empty() && address.find(',') != std::string::npos) {
    options.server_name = FirstHost(address);
  }
  Connect connect = [target = GrpcTarget(address), options] {
    return rpc::CreateTlsChannel(target, options, ChannelArgs());
  };
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = connect();
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<AdminClient>(
      new AdminClient(address, token, timeout, tls, std::move(connect), *std::move(channel)));
}

AdminClient::AdminClient(std::string address, std::string token, absl::Duration timeout,
                         std::optional<rpc::ClientTlsOptions> tls, Connect connect,
                         std::shared_ptr<grpc::Channel> channel)
    : address_(std::move(address)),
      token_(std::move(token)),
      timeout_(timeout),
      tls_(std::move(tls)),
      connect_(std::move(connect)),
      stub_(v1::AdminService::NewStub(std::move(channel))) {}

bool AdminClient::IsSendableToken(std::string_view token) {
  return std::all_of(token.begin(), token.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

absl::Status AdminClient::SetUp(grpc::ClientContext& context, absl::Duration timeout) const {
  if (!IsSendableToken(token_)) {
    return absl::UnauthenticatedError(
        "the admin token holds a character that is not printable ASCII; it was not sent");
  }
  if (!token_.empty()) context.AddMetadata("authorization", "Bearer " + token_);
  if (timeout != absl::InfiniteDuration()) {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  return absl::OkStatus();
}

template <typename Request, typename Response>
absl::StatusOr<Response> AdminClient::Call(UnaryMethod<Request, Response> method,
                                           const Request& request) {
  grpc::ClientContext context;
  if (absl::Status ready = SetUp(context, timeout_); !ready.ok()) return ready;
  Response response;
  grpc::Status status = (stub_.get()->*method)(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, timeout_);
  return response;
}

absl::StatusOr<v1::VersionResponse> AdminClient::Version() {
  return Call(&v1::AdminService::Stub::Version, v1::VersionRequest());
}
absl::StatusOr<v1::WhoAmIResponse> AdminClient::WhoAmI() {
  return Call(&v1::AdminService::Stub::WhoAmI, v1::WhoAmIRequest());
}
absl::StatusOr<v1::ApplyPolicyResponse> AdminClient::ApplyPolicy(
    const v1::ApplyPolicyRequest& request) {
  absl::StatusOr<v1::ApplyPolicyResponse> response =
      Call(&v1::AdminService::Stub::ApplyPolicy, request);
  // A policy fleetd refuses is a bad file (exit 1), not a bad command line.
  if (!response.ok() && IsUsageError(response.status())) {
    return absl::InvalidArgumentError(response.status().message());
  }
  return response;
}
absl::StatusOr<v1::Policy> AdminClient::GetPolicy(const v1::GetPolicyRequest& request) {
  return Call(&v1::AdminService::Stub::GetPolicy, request);
}
absl::StatusOr<v1::ListPoliciesResponse> AdminClient::ListPolicies(
    const v1::ListPoliciesRequest& request) {
  return Call(&v1::AdminService::Stub::ListPolicies, request);
}
absl::StatusOr<v1::DeletePolicyResponse> AdminClient::DeletePolicy(
    const v1::DeletePolicyRequest& request) {
  return Call(&v1::AdminService::Stub::DeletePolicy, request);
}
absl::StatusOr<v1::GetPolicyHistoryResponse> AdminClient::GetPolicyHistory(
    const v1::GetPolicyHistoryRequest& request) {
  return Call(&v1::AdminService::Stub::GetPolicyHistory, request);
}
absl::StatusOr<v1::DiffPolicyResponse> AdminClient::DiffPolicy(
    const v1::DiffPolicyRequest& request) {
  return Call(&v1::AdminService::Stub::DiffPolicy, request);
}
absl::StatusOr<v1::ApplyPolicyResponse> AdminClient::RollbackPolicy(
    const v1::RollbackPolicyRequest& request) {
  return Call(&v1::AdminService::Stub::RollbackPolicy, request);
}
absl::StatusOr<v1::CreateEnrollmentTokenResponse> AdminClient::CreateEnrollmentToken(
    const v1::CreateEnrollmentTokenRequest& request) {
  return Call(&v1::AdminService::Stub::CreateEnrollmentToken, request);
}
absl::StatusOr<v1::ListEnrollmentTokensResponse> AdminClient::ListEnrollmentTokens(
    const v1::ListEnrollmentTokensRequest& request) {
  return Call(&v1::AdminService::Stub::ListEnrollmentTokens, request);
}
absl::StatusOr<v1::RevokeEnrollmentTokenResponse> AdminClient::RevokeEnrollmentToken(
    const v1::RevokeEnrollmentTokenRequest& request) {
  return Call(&v1::AdminService::Stub::RevokeEnrollmentToken, request);
}
absl::StatusOr<v1::ListAgentsResponse> AdminClient::ListAgents(
    const v1::ListAgentsRequest& request) {
  return Call(&v1::AdminService::Stub::ListAgents, request);
}
absl::StatusOr<v1::Agent> AdminClient::GetAgent(const v1::GetAgentRequest& request) {
  return Call(&v1::AdminService::Stub::GetAgent, request);
}
absl::StatusOr<v1::UnenrollAgentResponse> AdminClient::UnenrollAgent(
    const v1::UnenrollAgentRequest& request) {
  return Call(&v1::AdminService::Stub::UnenrollAgent, request);
}
absl::StatusOr<v1::Agent> AdminClient::ReassignAgent(const v1::ReassignAgentRequest& request) {
  return Call(&v1::AdminService::Stub::ReassignAgent, request);
}
absl::StatusOr<v1::Agent> AdminClient::SetAgentLabels(const v1::SetAgentLabelsRequest& request) {
  return Call(&v1::AdminService::Stub::SetAgentLabels, request);
}
absl::StatusOr<v1::RotateAgentCredentialsResponse> AdminClient::RotateAgentCredentials(
    const v1::RotateAgentCredentialsRequest& request) {
  return Call(&v1::AdminService::Stub::RotateAgentCredentials, request);
}
absl::StatusOr<v1::AgentChangesResponse> AdminClient::UnenrollAgents(
    const v1::UnenrollAgentsRequest& request) {
  return Call(&v1::AdminService::Stub::UnenrollAgents, request);
}
absl::StatusOr<v1::AgentChangesResponse> AdminClient::ReassignAgents(
    const v1::ReassignAgentsRequest& request) {
  return Call(&v1::AdminService::Stub::ReassignAgents, request);
}
absl::StatusOr<v1::AgentChangesResponse> AdminClient::LabelAgents(
    const v1::LabelAgentsRequest& request) {
  return Call(&v1::AdminService::Stub::LabelAgents, request);
}
absl::StatusOr<v1::CreateAdminTokenResponse> AdminClient::CreateAdminToken(
    const v1::CreateAdminTokenRequest& request) {
  return Call(&v1::AdminService::Stub::CreateAdminToken, request);
}
absl::StatusOr<v1::ListAdminTokensResponse> AdminClient::ListAdminTokens() {
  return Call(&v1::AdminService::Stub::ListAdminTokens, v1::ListAdminTokensRequest());
}
absl::StatusOr<v1::RevokeAdminTokenResponse> AdminClient::RevokeAdminToken(
    const v1::RevokeAdminTokenRequest& request) {
  return Call(&v1::AdminService::Stub::RevokeAdminToken, request);
}
absl::StatusOr<v1::RolloutStatus> AdminClient::GetRolloutStatus(
    const v1::GetRolloutStatusRequest& request) {
  return Call(&v1::AdminService::Stub::GetRolloutStatus, request);
}

absl::StatusOr<v1::Action> AdminClient::CreateAction(const v1::CreateActionRequest& request) {
  return Call(&v1::AdminService::Stub::CreateAction, request);
}
absl::StatusOr<v1::Action> AdminClient::GetAction(const v1::GetActionRequest& request) {
  return Call(&v1::AdminService::Stub::GetAction, request);
}
absl::StatusOr<v1::ListActionsResponse> AdminClient::ListActions(
    const v1::ListActionsRequest& request) {
  return Call(&v1::AdminService::Stub::ListActions, request);
}
absl::StatusOr<v1::Action> AdminClient::CancelAction(const v1::CancelActionRequest& request) {
  return Call(&v1::AdminService::Stub::CancelAction, request);
}
absl::StatusOr<v1::ListActionTargetsResponse> AdminClient::ListActionTargets(
    const v1::ListActionTargetsRequest& request) {
  return Call(&v1::AdminService::Stub::ListActionTargets, request);
}

template <typename Request, typename Message>
absl::Status AdminClient::ReadStream(const Request& request, absl::Duration timeout,
                                     std::unique_ptr<grpc::ClientReader<Message>> (
                                         v1::AdminService::Stub::*open)(grpc::ClientContext*,
                                                                        const Request&),
                                     const std::function<bool(const Message&)>& on_message,
                                     const absl::Status& ended_ok) {
  if (new_channel_next_) {
    // Kept on the old channel when a new one cannot be made (a TLS file gone meanwhile): that
    // one's error says what is wrong.
    if (absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = connect_(); channel.ok()) {
      stub_ = v1::AdminService::NewStub(*std::move(channel));
    }
    new_channel_next_ = false;
  }
  grpc::ClientContext context;
  if (absl::Status ready = SetUp(context, timeout); !ready.ok()) return ready;
  std::unique_ptr<grpc::ClientReader<Message>> reader = (stub_.get()->*open)(&context, request);
  Message message;
  bool stopped = false;
  while (!stopped && reader->Read(&message)) stopped = !on_message(message);
  if (stopped) context.TryCancel();
  grpc::Status finish = reader->Finish();
  if (stopped) return absl::OkStatus();
  if (finish.ok()) return ended_ok;
  new_channel_next_ = finish.error_code() == grpc::StatusCode::UNAVAILABLE ||
                      finish.error_code() == grpc::StatusCode::CANCELLED;
  return FromGrpc(finish, timeout);
}

absl::Status AdminClient::WatchRolloutStatus(
    const v1::GetRolloutStatusRequest& request, absl::Duration timeout,
    const std::function<bool(const v1::RolloutStatus&)>& on_status) {
  return ReadStream(request, timeout, &v1::AdminService::Stub::WatchRolloutStatus, on_status,
                    absl::UnavailableError("fleetd ended the watch; try again"));
}

absl::Status AdminClient::WatchAction(const v1::GetActionRequest& request, absl::Duration timeout,
                                      const std::function<bool(const v1::Action&)>& on_action) {
  return ReadStream(request, timeout, &v1::AdminService::Stub::WatchAction, on_action,
                    absl::UnavailableError("fleetd ended the watch; try again"));
}

absl::Status AdminClient::RunQuery(const v1::RunQueryRequest& request, absl::Duration timeout,
                                   const std::function<bool(const v1::QueryEvent&)>& on_event) {
  return ReadStream(request, timeout, &v1::AdminService::Stub::RunQuery, on_event,
                    absl::OkStatus());
}

}  // namespace fleet::cli
