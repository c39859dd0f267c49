// Sends gRPC's own log lines (bind failures, transport errors) through spdlog, so that everything
// fleetd writes to stderr has one format. gRPC still decides what it logs (GRPC_VERBOSITY,
// default ERROR); spdlog's level filters it further.
#ifndef FLEETD_RPC_GRPC_LOGGING_H_
#define FLEETD_RPC_GRPC_LOGGING_H_

namespace fleet::rpc {

// Routes gRPC's log to spdlog's default logger from now on. Call once, early in main, after
// setting up spdlog. Not thread-safe against gRPC logging concurrently.
void RouteGrpcLogToSpdlog();

// Drops gRPC's log lines, for command-line tools that report each failure as one line of their
// own (gRPC's lines, e.g. about a failed TLS handshake, repeat what the failed call returns).
// With GRPC_VERBOSITY set in the environment they are kept, for debugging. Call early in main.
void SilenceGrpcLogUnlessAsked();

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_GRPC_LOGGING_H_
