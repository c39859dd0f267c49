// One agent-sim run from start to report: enroll, run the agents until the duration passes or
// SIGINT/SIGTERM arrives, print progress to stderr, stop cleanly, write the JSON report.
#ifndef FLEETD_AGENT_SIM_SIM_RUN_H_
#define FLEETD_AGENT_SIM_SIM_RUN_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent-sim/simulator.h"

namespace fleet::agent {

struct RunOptions {
  SimulatorOptions simulator;
  // How long the agents run; nullopt: until SIGINT or SIGTERM.
  std::optional<absl::Duration> duration;
  // Where the report goes; empty: stdout.
  std::string report_path;
  absl::Duration progress_interval = absl::Seconds(5);
};

// Blocks SIGINT and SIGTERM in the calling thread (so call it before any other thread starts:
// they inherit the mask) and waits for them synchronously. OK once the report is written; an
// error (the server unreachable, no agent enrolled, the state dir or report file unusable)
// otherwise, without a report.
[[nodiscard]] absl::Status RunAgentSim(const RunOptions& options);

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_SIM_SIM_RUN_H_
