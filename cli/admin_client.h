// fleetctl's connection to fleetd's admin API: one channel, one method per AdminService RPC,
// each with a deadline, errors turned into messages an operator can act on.
#ifndef FLEETD_CLI_ADMIN_CLIENT_H_
#define FLEETD_CLI_ADMIN_CLIENT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fleet/v1/admin.grpc.pb.h"

namespace fleet::cli {

// How long one RPC may take before it fails with DEADLINE_EXCEEDED.
inline constexpr absl::Duration kDefaultRpcTimeout = absl::Seconds(5);

// Thread-safe.
class AdminClient {
 public:
  // Connects lazily: creating the client never fails or blocks; the first RPC reports an
  // unreachable fleetd.
  static std::unique_ptr<AdminClient> Create(const std::string& address,
                                             absl::Duration timeout = kDefaultRpcTimeout);

  // AdminService.Version. Errors keep the gRPC code; the message names the address, e.g.
  // UNAVAILABLE "cannot reach fleetd at ADDR: ...; is it running?".
  absl::StatusOr<v1::VersionResponse> Version();

  const std::string& address() const { return address_; }

 private:
  AdminClient(std::string address, absl::Duration timeout,
              std::unique_ptr<v1::AdminService::Stub> stub);

  const std::string address_;
  const absl::Duration timeout_;
  const std::unique_ptr<v1::AdminService::Stub> stub_;
};

}  // namespace fleet::cli

#endif  // FLEETD_CLI_ADMIN_CLIENT_H_
