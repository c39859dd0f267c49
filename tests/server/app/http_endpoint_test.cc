// The HTTP endpoint on its own (no fleetd around it): what it answers while fleetd starts, its
// metrics, HTTPS with the configured certificate and with its replacements, and its errors at
// start.
#include "server/app/http_endpoint.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "server/app/health_monitor.h"
#include "server/app/serving_components.h"
#include "spdlog/sinks/ringbuffer_sink.h"
#include "spdlog/spdlog.h"
#include "tests/testing/dev_certs.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace fleet::server {
namespace {

using ::testing::HasSubstr;

constexpr char kOpenssl[] = "/usr/bin/openssl";

// The serial number, in hex, of `cert`.
std::string SerialOf(X509* cert) {
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  char* hex = BN_bn2hex(serial);
  std::string text(hex);
  OPENSSL_free(hex);
  BN_free(serial);
  return text;
}

// The serial number of the first certificate in the PEM file at `path`; empty when it has none.
std::string SerialOfFile(const std::string& path) {
  FILE* file = std::fopen(path.c_str(), "r");
  if (file == nullptr) return "";
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (cert == nullptr) return "";
  std::string serial = SerialOf(cert);
  X509_free(cert);
  return serial;
}

// The serial number of the certificate the server on 127.0.0.1:`port` presents to a new
// connection (not verified: the tests compare it); empty when the handshake fails.
std::string ServedSerial(int port) {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  BIO* connection = BIO_new_ssl_connect(context);
  const std::string address = absl::StrCat("127.0.0.1:", port);
  BIO_set_conn_hostname(connection, address.c_str());
  SSL* ssl = nullptr;
  BIO_get_ssl(connection, &ssl);
  SSL_set_tlsext_host_name(ssl, "localhost");
  std::string serial;
  if (BIO_do_handshake(connection) == 1) {
    X509* peer = SSL_get1_peer_certificate(ssl);
    if (peer != nullptr) serial = SerialOf(peer);
    X509_free(peer);
  }
  BIO_free_all(connection);
  SSL_CTX_free(context);
  return serial;
}

// Routes spdlog's default logger to a buffer while it lives (made before, and destroyed after,
// the threads that log).
class LogBuffer {
 public:
  LogBuffer() { spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink_)); }
  ~LogBuffer() { spdlog::set_default_logger(previous_); }
  LogBuffer(const LogBuffer&) = delete;
  LogBuffer& operator=(const LogBuffer&) = delete;

  bool Contains(const std::string& text) const {
    for (const std::string& line : sink_->last_formatted()) {
      if (line.find(text) != std::string::npos) return true;
    }
    return false;
  }

 private:
  const std::shared_ptr<spdlog::logger> previous_ = spdlog::default_logger();
  const std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_ =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
};

// How long a replaced pair may take to serve (docs/tls.md): the 2 s between looks at the files,
// and a wide margin for a loaded machine.
constexpr absl::Duration kReloadDeadline = absl::Seconds(10);

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

// Certificate files replaced (renamed into place by scripts/dev-certs) serve new connections
// within the deadline, verified by a client that trusts the CA; a replacement that does not
// parse is logged and the pair before it keeps serving.
TEST_F(HttpEndpointTest, ReplacedCertificateServesNewConnections) {
  LogBuffer log;
  const std::string certs = tmp_.Sub("certs");
  ASSERT_OK(testing::RunDevCerts(certs));
  const std::string cert = certs + "/server.pem";
  const std::string first = SerialOfFile(cert);
  ASSERT_FALSE(first.empty());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<HttpEndpoint> endpoint,
                       Start({.tls_cert_file = cert, .tls_key_file = certs + "/server-key.pem"}));
  EXPECT_EQ(ServedSerial(endpoint->port()), first);

  ASSERT_OK(testing::RunDevCerts(certs, {"server"}));
  const std::string second = SerialOfFile(cert);
  ASSERT_NE(second, first);
  std::string served = ServedSerial(endpoint->port());
  for (const absl::Time deadline = absl::Now() + kReloadDeadline;
       served != second && absl::Now() < deadline; served = ServedSerial(endpoint->port())) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(served, second);
  httplib::SSLClient verifying("localhost", endpoint->port());
  verifying.set_ca_cert_path((certs + "/ca.pem").c_str());
  verifying.enable_server_certificate_verification(true);
  httplib::Result live = verifying.Get("/healthz");
  ASSERT_TRUE(live) << httplib::to_string(live.error());
  EXPECT_EQ(live->status, 200);

  { std::ofstream(cert + ".new") << "not a certificate\n"; }
  ASSERT_EQ(std::rename((cert + ".new").c_str(), cert.c_str()), 0);
  bool warned = log.Contains("do not load");
  for (const absl::Time deadline = absl::Now() + kReloadDeadline; !warned && absl::Now() < deadline;
       warned = log.Contains("do not load")) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(warned);
  EXPECT_EQ(ServedSerial(endpoint->port()), second);
  endpoint->Stop();
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
