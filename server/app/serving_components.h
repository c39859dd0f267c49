// The parts of a running fleetd that its HTTP endpoint and health checks read, handed over once
// they all run and taken back before any of them stops: the endpoint starts before them (so that
// /readyz answers during startup) and may outlive them, and nothing it serves may then touch
// what is gone.
#ifndef FLEETD_SERVER_APP_SERVING_COMPONENTS_H_
#define FLEETD_SERVER_APP_SERVING_COMPONENTS_H_

#include <grpcpp/server.h>

#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/app/connection_acceptor.h"
#include "server/app/control_plane.h"
#include "storage/store.h"

namespace fleet::server {

// Everything here outlives the time between Attach and Detach.
struct ServingParts {
  storage::Store& store;
  ControlPlane& control;
  ConnectionAcceptor& admin_acceptor;
  ConnectionAcceptor& agent_acceptor;
  grpc::Server& admin_server;
  grpc::Server& agent_server;
};

// Thread-safe.
class ServingComponents {
 public:
  enum class Phase { kStarting, kServing, kStopping };

  // The parts serve from now on, until Detach. At most once.
  void Attach(ServingParts parts) {
    absl::MutexLock lock(&mu_);
    parts_.emplace(parts);
    phase_ = Phase::kServing;
  }
  // The parts are about to stop: returns once no Visit uses them any more. Idempotent.
  void Detach() {
    absl::MutexLock lock(&mu_);
    parts_.reset();
    phase_ = Phase::kStopping;
  }

  // Calls `visit(phase, parts)` with the parts while serving (nullptr before and after), holding
  // a shared lock that keeps Detach waiting until it returns; returns what `visit` returns.
  template <typename Fn>
  auto Visit(Fn visit) {
    absl::ReaderMutexLock lock(&mu_);
    return visit(phase_, parts_.has_value() ? &*parts_ : nullptr);
  }

 private:
  absl::Mutex mu_;
  Phase phase_ ABSL_GUARDED_BY(mu_) = Phase::kStarting;
  std::optional<ServingParts> parts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_SERVING_COMPONENTS_H_
