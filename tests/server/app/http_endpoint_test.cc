// The HTTP endpoint on its own (no fleetd around it): what it answers while fleetd starts, its
// metrics, HTTPS with the configured certificate, and its errors at start.
#include "server/app/http_endpoint.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "server/app/health_monitor.h"
#include "server/app/serving_components.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace fleet::server {
namespace {

using ::testing::HasSubstr;

constexpr char kOpenssl[] = "/usr/bin/openssl";

class HttpEndpointTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(HttpEndpointOptions options = {},
                                                      int port = 0) {
    return HttpEndpoint::Start("--http-addr", ListenAddress{.host = "127.0.0.1", .port = port},
                               std::move(options), registry_, health_);
  }

  // A self-signed certificate for localhost and 127.0.0.1, and its key.
  void MakeCertificate() {
    if (!std::filesystem::exists(kOpenssl)) GTEST_SKIP() << kOpenssl << " is not installed";
    ASSERT_OK_AND_ASSIGN(
        testing::CommandResult made,
        testing::RunCommand({kOpenssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                             "1", "-subj", "/CN=localhost", "-addext",
                             "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key_, "-out",
                             cert_}));
    ASSERT_EQ(made.exit_code, 0) << made.err;
  }

  metrics::Registry registry_;
  ServingComponents components_;
  HealthMonitor health_{components_, Clock::Real()};
  testing::TempDir tmp_;
  const std::string cert_ = tmp_.Sub("cert.pem");
  const std::string key_ = tmp_.Sub("key.pem");
};

// Before fleetd's parts are attached, /readyz says 503 "starting", /healthz 200, and /metrics
// serves the registry in the text format.
TEST_F(HttpEndpointTest, AnswersWhileFleetdStarts) {
  registry_.AddCounter("things_total", "Things.").Increment(2);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<HttpEndpoint> endpoint, Start());
  ASSERT_GT(endpoint->port(), 0);
  httplib::Client client("127.0.0.1", endpoint->port());
  httplib::Result ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_EQ(nlohmann::json::parse(ready->body)["failing"][0]["detail"], "fleetd is starting");
  httplib::Result live = client.Get("/healthz");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(metrics->body, HasSubstr("\nthings_total 2\n"));
  endpoint->Stop();
  endpoint->Stop();  // idempotent
  EXPECT_FALSE(client.Get("/healthz"));
}

// A port one endpoint holds is refused to a second one (no SO_REUSEPORT sharing).
TEST_F(HttpEndpointTest, TakenPortIsUnavailable) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<HttpEndpoint> first, Start());
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> second = Start({}, first->port());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("--http-addr"));
}

// With a certificate and key the endpoint speaks HTTPS only: a client that trusts the
// certificate gets answers, a plaintext client none.
TEST_F(HttpEndpointTest, ServesHttpsWithTheConfiguredCertificate) {
  ASSERT_NO_FATAL_FAILURE(MakeCertificate());
  if (IsSkipped()) return;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<HttpEndpoint> endpoint,
                       Start({.tls_cert_file = cert_, .tls_key_file = key_}));
  httplib::SSLClient tls("localhost", endpoint->port());
  tls.set_ca_cert_path(cert_.c_str());
  tls.enable_server_certificate_verification(true);
  httplib::Result live = tls.Get("/healthz");
  ASSERT_TRUE(live) << httplib::to_string(live.error());
  EXPECT_EQ(live->status, 200);
  httplib::Client plain("127.0.0.1", endpoint->port());
  plain.set_read_timeout(2);
  httplib::Result refused = plain.Get("/healthz");
  EXPECT_TRUE(!refused || refused->status != 200);
}

// A certificate that does not load is INVALID_ARGUMENT naming the flag and the files.
TEST_F(HttpEndpointTest, UnloadableCertificateIsInvalidArgument) {
  absl::StatusOr<std::unique_ptr<HttpEndpoint>> endpoint =
      Start({.tls_cert_file = tmp_.Sub("missing.pem"), .tls_key_file = tmp_.Sub("missing.key")});
  ASSERT_FALSE(endpoint.ok());
  EXPECT_EQ(endpoint.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(endpoint.status().message()), HasSubstr("missing.pem"));
}

}  // namespace
}  // namespace fleet::server
