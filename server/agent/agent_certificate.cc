#include "server/agent/agent_certificate.h"

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace fleet::server {

absl::StatusOr<std::string> CertificateAgentId(const rpc::PeerCertificate& cert) {
  std::optional<std::string> from_uri;
  for (const std::string& uri : cert.uri_sans) {
    if (!uri.starts_with(kAgentUriPrefix)) continue;
    std::string id = uri.substr(kAgentUriPrefix.size());
    if (id.empty()) {
      return absl::UnauthenticatedError(
          "the client certificate's URI fleet://agent/ names no agent id");
    }
    // Two different agents in one certificate would let either claim be "the" identity.
    if (from_uri.has_value() && *from_uri != id) {
      return absl::UnauthenticatedError(
          absl::StrCat("the client certificate names two agents, ", QuoteForError(*from_uri),
                       " and ", QuoteForError(id), "; an agent certificate names one"));
    }
    from_uri = std::move(id);
  }
  if (from_uri.has_value()) return *std::move(from_uri);
  if (!cert.common_name.empty()) return cert.common_name;
  return absl::UnauthenticatedError(
      "the client certificate names no agent: it needs a URI SAN fleet://agent/ID or the agent "
      "id as its CN");
}

absl::Status CheckAgentCertificate(const std::optional<rpc::PeerCertificate>& cert,
                                   std::string_view claimed_id) {
  if (!cert.has_value()) return absl::OkStatus();
  absl::StatusOr<std::string> named = CertificateAgentId(*cert);
  if (!named.ok()) return named.status();
  if (*named == claimed_id) return absl::OkStatus();
  return absl::UnauthenticatedError(absl::StrCat("the client certificate is agent ",
                                                 QuoteForError(*named), "'s, not agent ",
                                                 QuoteForError(claimed_id), "'s"));
}

}  // namespace fleet::server
