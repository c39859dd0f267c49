#include "cli/admin_client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace fleet::cli {
namespace {

// A status for a failed call to `address`, its message saying what the operator can do.
absl::Status FromGrpc(const grpc::Status& status, const std::string& address,
                      absl::Duration timeout) {
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return absl::Status(code, absl::StrCat("cannot reach fleetd at ", address, ": ",
                                             status.error_message(), "; is it running?"));
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::Status(code, absl::StrCat("fleetd at ", address, " did not answer within ",
                                             absl::FormatDuration(timeout)));
    default:
      return absl::Status(code, absl::StrCat("fleetd at ", address, ": ", status.error_message()));
  }
}

}  // namespace

std::unique_ptr<AdminClient> AdminClient::Create(const std::string& address,
                                                 absl::Duration timeout) {
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  return std::unique_ptr<AdminClient>(
      new AdminClient(address, timeout, v1::AdminService::NewStub(channel)));
}

AdminClient::AdminClient(std::string address, absl::Duration timeout,
                         std::unique_ptr<v1::AdminService::Stub> stub)
    : address_(std::move(address)), timeout_(timeout), stub_(std::move(stub)) {}

absl::StatusOr<v1::VersionResponse> AdminClient::Version() {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  v1::VersionResponse response;
  grpc::Status status = stub_->Version(&context, v1::VersionRequest(), &response);
  if (!status.ok()) return FromGrpc(status, address_, timeout_);
  return response;
}

}  // namespace fleet::cli
