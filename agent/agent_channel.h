// The channel an agent reaches fleetd's agent API on: plaintext, or TLS with the agent's own
// flags (--ca, --cert, --key). With fleetd's --agent-client-ca the certificate is the agent's
// identity: it must name the agent id the agent connects as (URI SAN fleet://agent/<id>, see
// agent.proto), and the files are re-read every few seconds, so that a renewed certificate is
// presented on the next connection without a restart.
#ifndef FLEETD_AGENT_AGENT_CHANNEL_H_
#define FLEETD_AGENT_AGENT_CHANNEL_H_

#include <grpcpp/channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace fleet::agent {

// PEM files; each may be empty. TLS is on when any is set.
struct AgentTlsFiles {
  std::string ca_file;    // --ca: the CA bundle fleetd's certificate must chain to (else the
                          // system's roots)
  std::string cert_file;  // --cert: the agent's certificate, for mTLS; needs key_file
  std::string key_file;   // --key

  bool enabled() const { return !ca_file.empty() || !cert_file.empty() || !key_file.empty(); }
};

// A channel to `address` with `args`, over TLS when `tls` is enabled(). INVALID_ARGUMENT naming
// --ca, --cert or --key when a file does not load or only one of --cert and --key is given.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateAgentChannel(
    const std::string& address, const AgentTlsFiles& tls, grpc::ChannelArguments args = {});

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_AGENT_CHANNEL_H_
