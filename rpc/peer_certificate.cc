#include "rpc/peer_certificate.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>

namespace fleet::rpc {

std::optional<PeerCertificate> PeerCertificateOf(const grpc::AuthContext& context) {
  // A TLS peer without a certificate has a transport security type but no x509 properties.
  if (context.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME).empty()) return std::nullopt;
  PeerCertificate cert;
  for (const grpc::string_ref& uri : context.FindPropertyValues(GRPC_PEER_URI_PROPERTY_NAME)) {
    cert.uri_sans.emplace_back(uri.data(), uri.size());
  }
  const std::vector<grpc::string_ref> names =
      context.FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
  if (!names.empty()) cert.common_name.assign(names.front().data(), names.front().size());
  return cert;
}

}  // namespace fleet::rpc
