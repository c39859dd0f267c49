// Gives a request that does not parse a clear status. gRPC deserializes a unary request before
// any handler runs; when that fails (most often a proto3 string field that is not UTF-8, which
// protobuf refuses) it answers INTERNAL with an empty message, which tells the client neither
// that its input was at fault nor what was wrong. This server interceptor sees such a call (its
// received message is null) and turns that status into INVALID_ARGUMENT "the request is not a
// valid fleet.v1.ApplyPolicyRequest: ...". Calls with a unary request only (unary and
// server-streaming RPCs); streams that read many messages get no interceptor, so they pay
// nothing.
#ifndef FLEETD_RPC_UNPARSED_REQUEST_INTERCEPTOR_H_
#define FLEETD_RPC_UNPARSED_REQUEST_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>
#include <string>

namespace fleet::rpc {

// The status message for a request of `method` ("/fleet.v1.AdminService/ApplyPolicy") that
// does not parse, naming the request type when the method is known to protobuf's generated pool.
std::string UnparsedRequestMessage(const std::string& method);

// For ServerBuilder::experimental().SetInterceptorCreators. Thread-safe.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewUnparsedRequestInterceptorFactory();

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_UNPARSED_REQUEST_INTERCEPTOR_H_
