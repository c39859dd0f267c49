// Writes the agent connections summary line (server/agent/connection_log.h) every interval, from
// its own thread: the hub's open streams and its connects and disconnects since the last line.
#ifndef FLEETD_SERVER_APP_CONNECTION_SUMMARY_H_
#define FLEETD_SERVER_APP_CONNECTION_SUMMARY_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/agent/agent_hub.h"

namespace fleet::server {

// Thread-safe.
class ConnectionSummary {
 public:
  // Starts logging `hub`'s counts (the hub is not owned and outlives this) every `interval`.
  ConnectionSummary(AgentHub& hub, absl::Duration interval);
  ~ConnectionSummary();  // stops, without a last line

  ConnectionSummary(const ConnectionSummary&) = delete;
  ConnectionSummary& operator=(const ConnectionSummary&) = delete;

  // Writes the line now and starts the counts again.
  void LogNow();

 private:
  void Run();

  AgentHub& hub_;  // not owned
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_CONNECTION_SUMMARY_H_
