// fleetd's HTTP endpoint (--http-addr), served by cpp-httplib on a bounded pool of threads, over
// TLS when a certificate is configured (re-read when its files are replaced, see
// rpc/key_pair_watcher.h):
//   GET /healthz   200 "ok" while the process serves HTTP at all (liveness).
//   GET /readyz    200 when every HealthMonitor check passes, else 503; a JSON body names each
//                  failing check, and with ?verbose every check with its state.
//   GET /metrics   the registry in Prometheus's text format.
// It starts before the rest of fleetd (so that /readyz answers 503 while fleetd starts) and
// stops first.
#ifndef FLEETD_SERVER_APP_HTTP_ENDPOINT_H_
#define FLEETD_SERVER_APP_HTTP_ENDPOINT_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics/registry.h"
#include "rpc/key_pair_watcher.h"
#include "server/app/health_monitor.h"
#include "server/app/listen_address.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace fleet::server {

struct HttpEndpointOptions {
  // PEM files; both set: HTTPS.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Threads serving requests; connections beyond them wait their turn.
  int threads = 8;
};

// The body of /readyz for `checks`: {"status":"ready"} or {"status":"not ready","failing":[...]}
// (each {"check":NAME,"detail":WHY}), with "checks":[{"check","ok","detail"}...] when `verbose`.
std::string ReadinessJson(const std::vector<ReadinessCheck>& checks, bool verbose);

// Thread-safe.
class HttpEndpoint {
 public:
  // Listens on `address` (the value of `flag`) and serves on threads of its own. `registry` and
  // `health` are not owned and outlive the endpoint. Over HTTPS, new handshakes use the TLS files
  // as they are within rpc::kCertificateRefreshInterval of a replacement; a replacement that does
  // not load is logged and the previous pair kept. Errors: INVALID_ARGUMENT when the TLS files
  // cannot be loaded at start; as ExplainListenFailure (listen_address.h) when the address cannot
  // be bound.
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(const std::string& flag,
                                                             const ListenAddress& address,
                                                             HttpEndpointOptions options,
                                                             metrics::Registry& registry,
                                                             HealthMonitor& health);
  // Stops.
  ~HttpEndpoint();

  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // The port listened on (the kernel's pick for port 0).
  int port() const { return port_; }

  // Stops listening and waits for the requests in progress. Idempotent.
  void Stop();

 private:
  HttpEndpoint(std::unique_ptr<rpc::KeyPairWatcher> key_pair,
               std::unique_ptr<httplib::Server> server, int port);

  // Null over plain HTTP. Declared before server_, whose handshakes use it, to outlive it.
  const std::unique_ptr<rpc::KeyPairWatcher> key_pair_;
  const std::unique_ptr<httplib::Server> server_;
  const int port_;
  absl::Mutex mu_;
  std::thread thread_ ABSL_GUARDED_BY(mu_);  // runs listen_after_bind until Stop
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_HTTP_ENDPOINT_H_
