// Which agent a client certificate names, and whether it is the agent the call claims to be: the
// mTLS half of authenticating a Connect stream (agent.proto), without gRPC, so that the rule is
// tested without a handshake.
//
// The identity is the id in the certificate's URI subject alternative name fleet://agent/<id>;
// a certificate without one names the agent of its subject's common name.
#ifndef FLEETD_SERVER_AGENT_AGENT_CERTIFICATE_H_
#define FLEETD_SERVER_AGENT_AGENT_CERTIFICATE_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rpc/peer_certificate.h"

namespace fleet::server {

inline constexpr std::string_view kAgentUriPrefix = "fleet://agent/";

// The agent id `cert` names. UNAUTHENTICATED when it holds two different fleet://agent/ URIs, a
// fleet://agent/ URI with an empty id, or neither such a URI nor a common name.
absl::StatusOr<std::string> CertificateAgentId(const rpc::PeerCertificate& cert);

// OK when the peer presented no certificate (whether one is required is the TLS handshake's
// business) or one naming `claimed_id`; UNAUTHENTICATED otherwise, saying which agent the
// certificate names (quoted, at most 64 bytes).
absl::Status CheckAgentCertificate(const std::optional<rpc::PeerCertificate>& cert,
                                   std::string_view claimed_id);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_AGENT_CERTIFICATE_H_
