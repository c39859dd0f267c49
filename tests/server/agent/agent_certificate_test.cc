#include "server/agent/agent_certificate.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

using ::testing::HasSubstr;

rpc::PeerCertificate Cert(std::vector<std::string> uris, std::string common_name) {
  return rpc::PeerCertificate{.uri_sans = std::move(uris), .common_name = std::move(common_name)};
}

// The fleet://agent/ URI SAN names the agent, whatever the CN says.
TEST(AgentCertificateTest, UriSanWinsOverCommonName) {
  EXPECT_EQ(CertificateAgentId(Cert({"fleet://agent/0123456789ab"}, "host.example.com"))
                .value_or("error"),
            "0123456789ab");
}

// Other URIs (SPIFFE ids, say) are not agent identities; the CN is used then.
TEST(AgentCertificateTest, OtherUrisFallBackToCommonName) {
  EXPECT_EQ(CertificateAgentId(Cert({"spiffe://corp/host", "https://x"}, "0123456789ab"))
                .value_or("error"),
            "0123456789ab");
}

// The same agent URI twice is one identity; two different ones are refused.
TEST(AgentCertificateTest, TwoDifferentAgentUrisAreRefused) {
  EXPECT_EQ(
      CertificateAgentId(Cert({"fleet://agent/aaa", "fleet://agent/aaa"}, "")).value_or("error"),
      "aaa");
  absl::StatusOr<std::string> two =
      CertificateAgentId(Cert({"fleet://agent/aaa", "fleet://agent/bbb"}, "aaa"));
  EXPECT_EQ(two.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(two.status().message(), HasSubstr("two agents"));
}

// A certificate with neither an agent URI nor a CN names nobody; nor does an empty agent URI.
TEST(AgentCertificateTest, NoIdentityIsRefused) {
  EXPECT_EQ(CertificateAgentId(Cert({}, "")).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CertificateAgentId(Cert({"fleet://agent/"}, "abc")).status().code(),
            absl::StatusCode::kUnauthenticated);
}

// An agent that presents no certificate passes this check (the handshake enforces "required").
TEST(AgentCertificateTest, NoCertificatePasses) {
  EXPECT_OK(CheckAgentCertificate(std::nullopt, "0123456789ab"));
}

// The certificate's agent must be the one claimed in x-fleet-agent-id, byte for byte.
TEST(AgentCertificateTest, ClaimMustMatch) {
  EXPECT_OK(CheckAgentCertificate(Cert({"fleet://agent/0123456789ab"}, ""), "0123456789ab"));
  absl::Status other =
      CheckAgentCertificate(Cert({"fleet://agent/0123456789ab"}, ""), "ba9876543210");
  EXPECT_EQ(other.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(other.message(), HasSubstr("\"0123456789ab\""));
  EXPECT_THAT(other.message(), HasSubstr("\"ba9876543210\""));
  EXPECT_EQ(CheckAgentCertificate(Cert({}, "0123456789AB"), "0123456789ab").code(),
            absl::StatusCode::kUnauthenticated);
}

// A claimed id full of junk is quoted in the error, bounded.
TEST(AgentCertificateTest, ErrorQuotesAtMostAShortPrefix) {
  const std::string claim(10'000, 'x');
  absl::Status status = CheckAgentCertificate(Cert({}, "abc"), claim);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_LT(status.message().size(), 300u);
}

}  // namespace
}  // namespace fleet::server
