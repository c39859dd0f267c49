#include "agent/agent_channel.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "rpc/tls_credentials.h"

namespace fleet::agent {

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateAgentChannel(const std::string& address,
                                                                  const AgentTlsFiles& tls,
                                                                  grpc::ChannelArguments args) {
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
