#include "agent/agent_channel.h"

#include <grpc/impl/codegen/grpc_types.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "rpc/tls_credentials.h"

namespace fleet::agent {
namespace {

// Bytes fleetd may send on a stream before the agent has read them (HTTP/2's initial window).
constexpr int kStreamWindowBytes = 1 << 20;

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateAgentChannel(const std::string& address,
                                                                  const AgentTlsFiles& tls,
                                                                  grpc::ChannelArguments args) {
  // No BDP probes: gRPC would answer each burst of data from fleetd (an update, an action, a
  // query) with a ping to estimate the link's bandwidth-delay product, which fleetd must answer
  // in turn; across a fleet those pings and their answers were about a quarter of the packets a
  // live query cost (scripts/bench query, 10,000 agents). The window they would have grown is
  // fixed instead, at about the largest update fleetd sends (a policy spec is at most 1 MiB,
  // kMaxSpecBytes), so that a long link delivers even that one in about one round trip.
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, kStreamWindowBytes);
  if (!tls.enabled()) {
    return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  }
  return rpc::CreateTlsChannel(
      address,
      rpc::ClientTlsOptions{.ca = {.flag = "--ca", .path = tls.ca_file},
                            .cert = {.flag = "--cert", .path = tls.cert_file},
                            .key = {.flag = "--key", .path = tls.key_file}},
      std::move(args));
}

}  // namespace fleet::agent
