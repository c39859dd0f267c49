// What the client certificate of a call's peer says, read from gRPC's AuthContext: the plain
// facts that the checks deciding who the peer is (kept apart from gRPC, so that they are tested
// without a handshake) need.
#ifndef FLEETD_RPC_PEER_CERTIFICATE_H_
#define FLEETD_RPC_PEER_CERTIFICATE_H_

#include <optional>
#include <string>
#include <vector>

namespace grpc {
class AuthContext;
}  // namespace grpc

namespace fleet::rpc {

// A verified certificate's names, as gRPC's TLS handshake extracted them.
struct PeerCertificate {
  // The URI subject alternative names ("fleet://agent/0123456789ab").
  std::vector<std::string> uri_sans;
  // The subject's common name; empty when it has none.
  std::string common_name;
};

// The certificate the peer presented, or nullopt when it presented none (or the connection is
// not TLS). gRPC puts a client certificate in the AuthContext only once it verified it against
// the server's client CA.
std::optional<PeerCertificate> PeerCertificateOf(const grpc::AuthContext& context);

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_PEER_CERTIFICATE_H_
