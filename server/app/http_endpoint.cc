#include "server/app/http_endpoint.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/metrics/text_format.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace fleet::server {
namespace {

// Slow or idle clients give their thread back after this long.
constexpr time_t kTimeoutSeconds = 5;
// Only GETs are served: a request body is never needed.
constexpr size_t kMaxPayload = 4096;

// SO_REUSEADDR only: cpp-httplib's default also sets SO_REUSEPORT, with which a second fleetd
// could share the port.
void ReuseAddressOnly(socket_t sock) {
  const int yes = 1;
  (void)setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
}

// SSL_CTX_set_cert_cb's callback: each handshake presents the pair current when it starts.
int UseCurrentPair(SSL* ssl, void* watcher) {
  return static_cast<const rpc::KeyPairWatcher*>(watcher)->Current()->UseFor(ssl) ? 1 : 0;
}

// An HTTPS server whose handshakes use `key_pair`, or a plain one when it is null.
std::unique_ptr<httplib::Server> MakeServer(rpc::KeyPairWatcher* key_pair) {
  if (key_pair == nullptr) return std::make_unique<httplib::Server>();
  return std::make_unique<httplib::SSLServer>([key_pair](SSL_CTX& context) {
    // As cpp-httplib's constructor from files sets up its context, with TLS 1.2 at least.
    SSL_CTX_set_options(&context,
                        SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
    if (SSL_CTX_set_min_proto_version(&context, TLS1_2_VERSION) != 1) return false;
    SSL_CTX_set_cert_cb(&context, UseCurrentPair, key_pair);
    return true;
  });
}

// The watcher of the TLS files, or null for plain HTTP.
absl::StatusOr<std::unique_ptr<rpc::KeyPairWatcher>> WatchKeyPair(
    const std::string& flag, const HttpEndpointOptions& options) {
  if (options.tls_cert_file.empty() && options.tls_key_file.empty()) return nullptr;
  absl::StatusOr<std::unique_ptr<rpc::KeyPairWatcher>> watcher =
      rpc::KeyPairWatcher::Start({.flag = "certificate", .path = options.tls_cert_file},
                                 {.flag = "key", .path = options.tls_key_file});
  if (!watcher.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot serve HTTPS on ", flag, ": ", watcher.status().message()));
  }
  return watcher;
}

void Route(httplib::Server& server, metrics::Registry& registry, HealthMonitor& health) {
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok\n", "text/plain; charset=utf-8");
  });
  server.Get("/readyz", [&health](const httplib::Request& request, httplib::Response& response) {
    const std::vector<ReadinessCheck> checks = health.Check();
    response.status = HealthMonitor::AllOk(checks) ? 200 : 503;
    response.set_content(ReadinessJson(checks, request.has_param("verbose")), "application/json");
  });
  server.Get("/metrics", [&registry](const httplib::Request&, httplib::Response& response) {
    response.set_content(registry.Expose(), metrics::kTextFormatContentType);
  });
}

}  // namespace

std::string ReadinessJson(const std::vector<ReadinessCheck>& checks, bool verbose) {
  nlohmann::json body = {{"status", HealthMonitor::AllOk(checks) ? "ready" : "not ready"}};
  nlohmann::json failing = nlohmann::json::array();
  nlohmann::json all = nlohmann::json::array();
  for (const ReadinessCheck& check : checks) {
    if (!check.ok) failing.push_back({{"check", check.name}, {"detail", check.detail}});
    all.push_back({{"check", check.name}, {"ok", check.ok}, {"detail", check.detail}});
  }
  if (!failing.empty()) body["failing"] = std::move(failing);
  if (verbose) body["checks"] = std::move(all);
  // Details quote the store's errors, which need not be UTF-8.
  return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(const std::string& flag,
                                                                  const ListenAddress& address,
                                                                  HttpEndpointOptions options,
                                                                  metrics::Registry& registry,
                                                                  HealthMonitor& health) {
  absl::StatusOr<std::unique_ptr<rpc::KeyPairWatcher>> key_pair = WatchKeyPair(flag, options);
  if (!key_pair.ok()) return key_pair.status();
  std::unique_ptr<httplib::Server> server = MakeServer(key_pair->get());
  if (!server->is_valid()) {
    return absl::InternalError(
        absl::StrCat("cannot serve HTTPS on ", flag, ": OpenSSL cannot make a TLS context"));
  }
  const size_t threads = static_cast<size_t>(std::max(1, options.threads));
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server->set_socket_options(ReuseAddressOnly);
  server->set_read_timeout(kTimeoutSeconds);
  server->set_write_timeout(kTimeoutSeconds);
  // One request per connection: a worker is held for a connection's whole life, and probes and
  // scrapes that kept theirs open would leave none for the next load balancer.
  server->set_keep_alive_max_count(1);
  server->set_keep_alive_timeout(kTimeoutSeconds);
  server->set_payload_max_length(kMaxPayload);
  Route(*server, registry, health);
  int port = address.port;
  if (port == 0) {
    port = server->bind_to_any_port(address.host);
  } else if (!server->bind_to_port(address.host, port)) {
    port = -1;
  }
  if (port < 0) return ExplainListenFailure(flag, address);
  return std::unique_ptr<HttpEndpoint>(
      new HttpEndpoint(*std::move(key_pair), std::move(server), port));
}

HttpEndpoint::HttpEndpoint(std::unique_ptr<rpc::KeyPairWatcher> key_pair,
                           std::unique_ptr<httplib::Server> server, int port)
    : key_pair_(std::move(key_pair)), server_(std::move(server)), port_(port) {
  absl::MutexLock lock(&mu_);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  // cpp-httplib's stop() stops only a server already in its accept loop: a Stop before that would
  // leave the thread listening for ever. Bounded: the thread gets there at once.
  for (int i = 0; i < 5000 && !server_->is_running(); ++i) absl::SleepFor(absl::Milliseconds(1));
}

HttpEndpoint::~HttpEndpoint() { Stop(); }

void HttpEndpoint::Stop() {
  absl::MutexLock lock(&mu_);
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace fleet::server
