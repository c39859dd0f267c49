// Sends gRPC's own log lines (bind failures, transport errors) through spdlog, so that everything
// fleetd writes to stderr has one format. gRPC still decides what it logs (GRPC_VERBOSITY,
// default ERROR); spdlog's level filters it further.
#ifndef FLEETD_RPC_GRPC_LOGGING_H_
#define FLEETD_RPC_GRPC_LOGGING_H_

namespace fleet::rpc {

// Routes gRPC's log to spdlog's default logger from now on. Call once, early in main, after
// setting up spdlog. Not thread-safe against gRPC logging concurrently.
void RouteGrpcLogToSpdlog();

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_GRPC_LOGGING_H_
