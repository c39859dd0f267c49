// absl::Status to grpc::Status: the codes are the same numbers, so a client sees exactly the
// code the service chose (see admin.proto and agent.proto for what each means).
#ifndef FLEETD_RPC_GRPC_STATUS_H_
#define FLEETD_RPC_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace fleet::rpc {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_GRPC_STATUS_H_
