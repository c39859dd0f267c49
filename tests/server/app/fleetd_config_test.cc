#include "server/app/fleetd_config.h"

#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/dev_certs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet::server {
namespace {

using ::testing::HasSubstr;

class FleetdConfigTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    certs_ = new testing::TempDir();
    ASSERT_OK(testing::RunDevCerts(certs_->path()));
  }
  static void TearDownTestSuite() {
    delete certs_;
    certs_ = nullptr;
  }

  static std::string File(const std::string& name) { return certs_->Sub(name); }

  // A configuration that validates, on loopback, with the dev server pair.
  static FleetdConfig WithTls() {
    FleetdConfig config;
    config.tls_cert_file = File("server.pem");
    config.tls_key_file = File("server-key.pem");
    return config;
  }

  static absl::Status Error(const FleetdConfig& config) { return ValidateConfig(config).status(); }

  static testing::TempDir* certs_;
};

testing::TempDir* FleetdConfigTest::certs_ = nullptr;

// Plaintext on loopback needs nothing: the defaults (and every existing test) keep working.
TEST_F(FleetdConfigTest, PlaintextOnLoopbackIsAllowed) {
  FleetdConfig config;
  config.admin_addr = "[::1]:0";
  config.agent_addr = "localhost:0";
  ASSERT_OK_AND_ASSIGN(ValidConfig valid, ValidateConfig(config));
  EXPECT_FALSE(valid.admin_tls.has_value());
  EXPECT_FALSE(valid.agent_tls.has_value());
  EXPECT_TRUE(valid.warnings.empty());
}

// A plaintext listener on every interface is refused, naming the flag and both ways out.
TEST_F(FleetdConfigTest, PlaintextOffLoopbackIsRefused) {
  FleetdConfig config;
  config.agent_addr = "0.0.0.0:8220";
  absl::Status status = Error(config);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("--agent-addr 0.0.0.0:8220"));
  EXPECT_THAT(status.message(), HasSubstr("--tls-cert"));
  EXPECT_THAT(status.message(), HasSubstr("--insecure-plaintext"));
}

// --insecure-plaintext allows it, with a warning for the start.
TEST_F(FleetdConfigTest, InsecurePlaintextAllowsItWithAWarning) {
  FleetdConfig config;
  config.admin_addr = "0.0.0.0:8221";
  config.insecure_plaintext = true;
  ASSERT_OK_AND_ASSIGN(ValidConfig valid, ValidateConfig(config));
  ASSERT_EQ(valid.warnings.size(), 1u);
  EXPECT_THAT(valid.warnings[0], HasSubstr("--admin-addr 0.0.0.0:8221"));
}

// With TLS a listener may be on any address; both listeners share --tls-cert/--tls-key.
TEST_F(FleetdConfigTest, TlsServesAnyAddress) {
  FleetdConfig config = WithTls();
  config.admin_addr = "0.0.0.0:8221";
  config.agent_addr = "0.0.0.0:8220";
  ASSERT_OK_AND_ASSIGN(ValidConfig valid, ValidateConfig(config));
  ASSERT_TRUE(valid.admin_tls.has_value());
  ASSERT_TRUE(valid.agent_tls.has_value());
  EXPECT_EQ(valid.admin_tls->cert_file, File("server.pem"));
  EXPECT_EQ(valid.agent_tls->client_auth, rpc::ClientAuth::kNone);
  EXPECT_TRUE(valid.warnings.empty());
}

// A listener's own pair replaces the shared one for it alone.
TEST_F(FleetdConfigTest, ListenerPairOverridesShared) {
  ASSERT_OK(testing::RunDevCerts(certs_->Sub("other")));
  FleetdConfig config = WithTls();
  config.agent_tls_cert_file = certs_->Sub("other/server.pem");
  config.agent_tls_key_file = certs_->Sub("other/server-key.pem");
  ASSERT_OK_AND_ASSIGN(ValidConfig valid, ValidateConfig(config));
  EXPECT_EQ(valid.admin_tls->cert_file, File("server.pem"));
  EXPECT_EQ(valid.agent_tls->cert_file, certs_->Sub("other/server.pem"));
}

// A certificate without its key, or a key without its certificate, is refused by flag name.
TEST_F(FleetdConfigTest, HalfAPairIsRefused) {
  FleetdConfig cert_only;
  cert_only.tls_cert_file = File("server.pem");
  EXPECT_THAT(Error(cert_only).message(), HasSubstr("--tls-cert needs --tls-key"));
  FleetdConfig key_only;
  key_only.admin_tls_key_file = File("server-key.pem");
  EXPECT_THAT(Error(key_only).message(), HasSubstr("--admin-tls-key needs --admin-tls-cert"));
}

// Files that are missing, hold something else, or do not belong together fail before start.
TEST_F(FleetdConfigTest, BadFilesAreRefusedNamingTheFlag) {
  FleetdConfig missing = WithTls();
  missing.tls_cert_file = File("nope.pem");
  EXPECT_THAT(Error(missing).message(), HasSubstr("--tls-cert " + File("nope.pem")));
  EXPECT_THAT(Error(missing).message(), HasSubstr("cannot read"));

  FleetdConfig not_a_cert = WithTls();
  not_a_cert.tls_cert_file = File("server-key.pem");
  EXPECT_THAT(Error(not_a_cert).message(), HasSubstr("holds no PEM certificate"));

  FleetdConfig not_a_key = WithTls();
  not_a_key.tls_key_file = File("server.pem");
  EXPECT_THAT(Error(not_a_key).message(), HasSubstr("--tls-key"));
  EXPECT_THAT(Error(not_a_key).message(), HasSubstr("no unencrypted PEM private key"));

  FleetdConfig mismatch = WithTls();
  mismatch.tls_key_file = File("admin-key.pem");
  EXPECT_THAT(Error(mismatch).message(), HasSubstr("is not the key of the certificate"));

  FleetdConfig bad_ca = WithTls();
  bad_ca.agent_client_ca_file = File("nope-ca.pem");
  EXPECT_THAT(Error(bad_ca).message(), HasSubstr("--agent-client-ca"));
}

// A client CA alone means "required"; optional is kept; either needs TLS on its listener.
TEST_F(FleetdConfigTest, ClientAuthDefaultsAndRequirements) {
  FleetdConfig required = WithTls();
  required.agent_client_ca_file = File("ca.pem");
  ASSERT_OK_AND_ASSIGN(ValidConfig valid, ValidateConfig(required));
  EXPECT_EQ(valid.agent_tls->client_auth, rpc::ClientAuth::kRequired);
  EXPECT_EQ(valid.agent_tls->client_ca_file, File("ca.pem"));
  EXPECT_EQ(valid.admin_tls->client_auth, rpc::ClientAuth::kNone);

  FleetdConfig optional = required;
  optional.agent_client_auth = "optional";
  ASSERT_OK_AND_ASSIGN(ValidConfig optional_valid, ValidateConfig(optional));
  EXPECT_EQ(optional_valid.agent_tls->client_auth, rpc::ClientAuth::kOptional);

  FleetdConfig admin = WithTls();
  admin.admin_client_ca_file = File("ca.pem");
  ASSERT_OK_AND_ASSIGN(ValidConfig admin_valid, ValidateConfig(admin));
  EXPECT_EQ(admin_valid.admin_tls->client_auth, rpc::ClientAuth::kRequired);

  FleetdConfig no_ca = WithTls();
  no_ca.agent_client_auth = "required";
  EXPECT_THAT(Error(no_ca).message(), HasSubstr("needs --agent-client-ca"));

  FleetdConfig pointless = required;
  pointless.agent_client_auth = "none";
  EXPECT_THAT(Error(pointless).message(), HasSubstr("has no effect"));

  FleetdConfig unknown = required;
  unknown.agent_client_auth = "sometimes";
  EXPECT_THAT(Error(unknown).message(), HasSubstr("none, optional or required"));

  FleetdConfig plaintext;
  plaintext.admin_client_ca_file = File("ca.pem");
  EXPECT_THAT(Error(plaintext).message(), HasSubstr("--admin-client-ca needs TLS on --admin-addr"));
}

// The live queries' limits must leave room for a query; the defaults validate.
TEST_F(FleetdConfigTest, QueryLimitsAreChecked) {
  EXPECT_OK(ValidateConfig(FleetdConfig{}).status());
  FleetdConfig no_queries;
  no_queries.max_concurrent_queries = 0;
  EXPECT_THAT(Error(no_queries).message(), HasSubstr("--max-concurrent-queries"));
  FleetdConfig no_rows;
  no_rows.query_max_rows_per_agent = 0;
  EXPECT_THAT(Error(no_rows).message(), HasSubstr("--query-max-rows-per-agent"));
  FleetdConfig few_bytes;
  few_bytes.query_max_bytes = 100;
  EXPECT_EQ(Error(few_bytes).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Error(few_bytes).message(), HasSubstr("--query-max-bytes"));
}

}  // namespace
}  // namespace fleet::server
