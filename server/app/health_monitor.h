// fleetd's readiness, for /readyz (http_endpoint.h) and gRPC health: the store open and writable,
// every Reflector synced (the policy engine's and the agent directory's), both listeners
// accepting. A thread of its own proves the store writable about once a second by writing the
// unlogged key layout::kHealthProbe, so that probes, however many, never reach the store
// themselves and never wait on a slow one; and it publishes the verdict to both servers' gRPC
// health services, per service name (fleet.v1.AdminService on the admin server,
// fleet.v1.AgentService on the agent server, and "" on both): SERVING or NOT_SERVING.
#ifndef FLEETD_SERVER_APP_HEALTH_MONITOR_H_
#define FLEETD_SERVER_APP_HEALTH_MONITOR_H_

#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/app/serving_components.h"

namespace fleet::server {

// One check of /readyz.
struct ReadinessCheck {
  std::string name;  // "store", "reflector:policy_engine", "listener:agent", ...
  bool ok = false;
  std::string detail;  // why it fails, or what passed
};

struct HealthMonitorOptions {
  // How often the store is probed and the gRPC health statuses refreshed.
  absl::Duration interval = absl::Seconds(1);
  // A store whose last successful probe is older than this fails the check even while a probe is
  // still under way (a store that hangs).
  absl::Duration probe_max_age = absl::Seconds(5);
};

// Thread-safe.
class HealthMonitor {
 public:
  // Starts the thread. `components` and `clock` are not owned and outlive the monitor.
  HealthMonitor(ServingComponents& components, Clock& clock, HealthMonitorOptions options = {});
  // Stops the thread.
  ~HealthMonitor();

  HealthMonitor(const HealthMonitor&) = delete;
  HealthMonitor& operator=(const HealthMonitor&) = delete;

  // Probes the store and publishes the gRPC health statuses now, rather than at the next tick:
  // call after ServingComponents::Attach, so that fleetd answers health checks correctly from its
  // first call on.
  void Refresh();
  // Sets every gRPC health status to NOT_SERVING: call before ServingComponents::Detach, when
  // shutting down.
  void PublishNotServing();

  // Every check, in a fixed order. Before the parts are attached (or once detached) one failing
  // check, "serving", says fleetd is starting (or stopping).
  std::vector<ReadinessCheck> Check();
  static bool AllOk(const std::vector<ReadinessCheck>& checks);

 private:
  void Run();
  // Writes the probe key; records when it succeeded or why it failed.
  void ProbeStore();
  // Sets the gRPC health statuses to what Check says, unless PublishNotServing ran.
  void Publish();

  ServingComponents& components_;  // not owned
  Clock& clock_;                   // not owned
  const HealthMonitorOptions options_;

  absl::Mutex probe_mu_;
  absl::Status last_probe_ ABSL_GUARDED_BY(probe_mu_) = absl::UnavailableError("not probed yet");
  absl::Time last_success_ ABSL_GUARDED_BY(probe_mu_) = absl::InfinitePast();

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool not_serving_ ABSL_GUARDED_BY(mu_) = false;  // PublishNotServing ran; held while publishing
  std::thread thread_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_HEALTH_MONITOR_H_
