// absl::Status to grpc::Status: the codes are the same numbers, so a client sees exactly the
// code the service chose (see admin.proto and agent.proto for what each means).
#ifndef FLEETD_RPC_GRPC_STATUS_H_
#define FLEETD_RPC_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "common/utf8.h"

namespace fleet::rpc {

// A status message is sent as a header (grpc-message), and gRPC fails the call when the headers
// outgrow the client's limit (8 KiB by default); no message may get near it, whatever input a
// message quotes. Messages quote at most 64 bytes of input (QuoteForError), so this only bounds
// what slipped through.
inline constexpr size_t kMaxStatusMessageBytes = 1024;

// `status` as a grpc::Status, its message cut at kMaxStatusMessageBytes (at a UTF-8 character
// boundary, "..." appended).
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  const std::string_view full(status.message().data(), status.message().size());
  std::string message(TruncateUtf8(full, kMaxStatusMessageBytes));
  if (message.size() < full.size()) message += "...";
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::move(message));
}

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_GRPC_STATUS_H_
