#include "rpc/tls_credentials.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/dev_certs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet::rpc {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

ClientTlsOptions Flags() {
  return ClientTlsOptions{
      .ca = {.flag = "--ca"}, .cert = {.flag = "--cert"}, .key = {.flag = "--key"}};
}

// The three modes parse; anything else names the flag and the accepted values.
TEST(TlsCredentialsTest, ParseClientAuth) {
  EXPECT_EQ(ParseClientAuth("--x", "none").value_or(ClientAuth::kRequired), ClientAuth::kNone);
  EXPECT_EQ(ParseClientAuth("--x", "optional").value_or(ClientAuth::kNone), ClientAuth::kOptional);
  EXPECT_EQ(ParseClientAuth("--x", "required").value_or(ClientAuth::kNone), ClientAuth::kRequired);
  absl::StatusOr<ClientAuth> bad = ParseClientAuth("--x", "Required");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("--x must be none, optional or required"));
}

// gRPC's messages for a failed handshake become what to pass, named by the client's own flags
// (the messages are those gRPC 1.51 gives).
TEST(TlsCredentialsTest, DescribeTlsFailureSaysWhatToPass) {
  const ClientTlsOptions none = Flags();
  EXPECT_THAT(DescribeTlsFailure("failed to connect to all addresses; last error: UNKNOWN: "
                                 "ipv4:127.0.0.1:1: Tls handshake failed: SSL_ERROR_SSL: "
                                 "error:0A000086:SSL routines::certificate verify failed",
                                 none),
              HasSubstr("not trusted: pass --ca FILE"));
  EXPECT_THAT(DescribeTlsFailure("Custom verification check failed with error: UNAUTHENTICATED: "
                                 "Hostname Verification Check failed.",
                                 none),
              HasSubstr("--tls-server-name"));
  EXPECT_THAT(DescribeTlsFailure("ipv4:127.0.0.1:1: Socket closed", none),
              HasSubstr("pass --cert FILE and --key FILE"));
  ClientTlsOptions with_cert = Flags();
  with_cert.cert.path = "/me.pem";
  EXPECT_THAT(DescribeTlsFailure("ipv4:127.0.0.1:1: Socket closed", with_cert),
              HasSubstr("--cert /me.pem"));
  EXPECT_THAT(DescribeTlsFailure("Failed to connect to remote host: Connection refused", none),
              IsEmpty());
}

// The client's files are checked when the channel is made: a certificate needs its key, and
// every file must load.
TEST(TlsCredentialsTest, ClientFilesAreCheckedUpFront) {
  testing::TempDir certs;
  ASSERT_OK(testing::RunDevCerts(certs.path()));
  ClientTlsOptions half = Flags();
  half.cert.path = certs.Sub("admin.pem");
  EXPECT_THAT(CreateTlsChannel("127.0.0.1:1", half).status().message(),
              HasSubstr("--cert needs --key"));
  ClientTlsOptions bad_ca = Flags();
  bad_ca.ca.path = certs.Sub("admin-key.pem");
  EXPECT_THAT(CreateTlsChannel("127.0.0.1:1", bad_ca).status().message(),
              HasSubstr("--ca " + certs.Sub("admin-key.pem") + ": holds no PEM certificate"));
  ClientTlsOptions good = Flags();
  good.ca.path = certs.Sub("ca.pem");
  good.cert.path = certs.Sub("admin.pem");
  good.key.path = certs.Sub("admin-key.pem");
  EXPECT_OK(CreateTlsChannel("127.0.0.1:1", good));
}

}  // namespace
}  // namespace fleet::rpc
