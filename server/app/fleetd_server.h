// The running fleetd: owns the data directory lock, the store and the two gRPC servers, the admin
// server (AdminService, for fleetctl and automation) and the agent server (AgentService). Both
// also serve the standard grpc.health.v1.Health service and server reflection. fleetd accepts
// their connections itself (connection_acceptor.h), against one descriptor budget: agents may
// use the open-file limit but for a reserve that keeps the store and the admin API working, and
// admin connections but for the store's reserve. An HTTP endpoint (http_endpoint.h), when
// configured, serves health checks and Prometheus metrics from the start of Start to the end of
// Shutdown.
#ifndef FLEETD_SERVER_APP_FLEETD_SERVER_H_
#define FLEETD_SERVER_APP_FLEETD_SERVER_H_

#include <grpcpp/server.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/metrics/registry.h"
#include "server/admin/admin_service.h"
#include "server/agent/agent_service.h"
#include "server/app/connection_acceptor.h"
#include "server/app/control_plane.h"
#include "server/app/data_dir_lock.h"
#include "server/app/fd_budget.h"
#include "server/app/fleetd_config.h"
#include "server/app/health_monitor.h"
#include "server/app/http_endpoint.h"
#include "server/app/serving_components.h"
#include "server/app/store_compactor.h"
#include "storage/store.h"

namespace fleet::server {

// Thread-safe.
class FleetdServer {
 public:
  // Locks the data directory, opens (or creates) the store, starts the control plane and both
  // servers; on success they serve until Shutdown. Errors, with a message fit for the operator:
  // INVALID_ARGUMENT for a configuration ValidateConfig refuses (naming the flag);
  // FAILED_PRECONDITION when another fleetd holds the data dir, or the store's errors
  // (storage/open_store.h); UNAVAILABLE / INVALID_ARGUMENT / PERMISSION_DENIED when an address
  // cannot be bound (listen_address.h). Everything acquired so far is released on failure.
  static absl::StatusOr<std::unique_ptr<FleetdServer>> Start(const FleetdConfig& config);
  // The same on `store` instead of the one the configuration names (tests: a fault-injecting
  // store).
  static absl::StatusOr<std::unique_ptr<FleetdServer>> Start(const FleetdConfig& config,
                                                             std::unique_ptr<storage::Store> store);

  // Shuts down with no grace period unless Shutdown ran already.
  ~FleetdServer();

  FleetdServer(const FleetdServer&) = delete;
  FleetdServer& operator=(const FleetdServer&) = delete;

  // The addresses actually bound, with the port the kernel picked for port 0.
  const std::string& admin_address() const { return admin_address_; }
  const std::string& agent_address() const { return agent_address_; }
  int admin_port() const { return admin_port_; }
  int agent_port() const { return agent_port_; }
  // The HTTP endpoint's address as bound and its port; empty and 0 when --http-addr is empty.
  const std::string& http_address() const { return observability_.http_address; }
  int http_port() const { return observability_.http_port; }
  const std::string& data_dir() const { return data_dir_; }
  // The bootstrap admin token file this start wrote (on a store without admin tokens), or empty.
  const std::string& bootstrap_token_file() const { return bootstrap_token_file_; }

  // Stops accepting connections and calls on both servers, lets calls in flight finish for up to
  // `grace` and cancels the rest, then closes the store and releases the data dir lock. Idempotent;
  // a concurrent second call waits for the first.
  void Shutdown(absl::Duration grace);

 private:
  // What serves health and metrics, built first and gone last (see Start).
  struct Observability {
    std::unique_ptr<metrics::Registry> registry;
    std::unique_ptr<ServingComponents> components;
    std::unique_ptr<HealthMonitor> health;
    std::unique_ptr<HttpEndpoint> http;  // null without --http-addr
    std::string http_address;
    int http_port = 0;
  };

  FleetdServer(Observability observability, int64_t revision_retention, std::string data_dir,
               std::string bootstrap_token_file, std::string admin_address, int admin_port,
               std::string agent_address, int agent_port, std::unique_ptr<DataDirLock> lock,
               std::unique_ptr<storage::Store> store, std::unique_ptr<ControlPlane> control,
               std::unique_ptr<FdBudget> fd_budget, std::unique_ptr<AdminService> admin_service,
               std::unique_ptr<ConnectionAcceptor> admin_acceptor,
               std::unique_ptr<grpc::Server> admin_server,
               std::unique_ptr<AgentService> agent_service,
               std::unique_ptr<ConnectionAcceptor> agent_acceptor,
               std::unique_ptr<grpc::Server> agent_server);

  // Declared first, so destroyed last: the registry holds every component's instruments, and the
  // HTTP endpoint reads the components until Shutdown detaches them.
  const Observability observability_;
  const std::string data_dir_;
  const std::string bootstrap_token_file_;
  const std::string admin_address_;  // as bound, with the chosen port
  const std::string agent_address_;
  const int admin_port_;
  const int agent_port_;

  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // Declared in the order they are acquired, so that they are destroyed in reverse.
  std::unique_ptr<DataDirLock> lock_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<storage::Store> store_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<StoreCompactor> compactor_ ABSL_GUARDED_BY(mu_);
  // Used by both services; stopped after the agent service, before the store.
  std::unique_ptr<ControlPlane> control_ ABSL_GUARDED_BY(mu_);
  // Shared by both acceptors, which it outlives.
  const std::unique_ptr<FdBudget> fd_budget_;
  // Used by admin_server_'s calls, which end before Shutdown closes the store.
  const std::unique_ptr<AdminService> admin_service_;
  // Feeds admin_server_ its connections until Shutdown stops it, before the server.
  const std::unique_ptr<ConnectionAcceptor> admin_acceptor_;  // thread-safe
  const std::unique_ptr<grpc::Server> admin_server_;          // grpc::Server is thread-safe
  // Used by agent_server_'s calls, which end before Shutdown destroys it, before the store.
  std::unique_ptr<AgentService> agent_service_ ABSL_GUARDED_BY(mu_);
  const std::unique_ptr<ConnectionAcceptor> agent_acceptor_;
  const std::unique_ptr<grpc::Server> agent_server_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_FLEETD_SERVER_H_
