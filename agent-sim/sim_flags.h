// agent-sim's command line: the flags, the Go-like durations they take, and the token file.
#ifndef FLEETD_AGENT_SIM_SIM_FLAGS_H_
#define FLEETD_AGENT_SIM_SIM_FLAGS_H_

#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent-sim/simulator.h"

namespace fleet::agent {

// The flags as typed; SimulatorOptionsFrom turns them into options.
struct SimFlags {
  std::string server;
  std::string enroll_token_file;
  int agents = 0;
  int connections = 0;
  std::string state_dir = "agent-sim-state";
  std::string hostname_prefix = "sim-";
  // "KEY=VALUE", as typed.
  std::vector<std::string> labels;
  std::string duration;
  double nack_rate = 0.0;
  uint64_t seed = 1;
  std::string report;
  AgentTlsFiles tls;
  // SimBehavior's (sim_agent.h); the durations as typed.
  std::string action_duration = "2s";
  int action_progress_steps = 3;
  double action_failure_rate = 0.0;
  std::string query_latency = "50ms";
  double query_error_rate = 0.0;
  int query_rows = 1;
};

// Adds every flag, with its help text, to `app`; parsing writes into `flags`, which must outlive
// `app`'s parse.
void AddSimFlags(CLI::App& app, SimFlags& flags);

// A duration such as "30s", "5m", "1h30m", "250ms": positive and finite. nullopt for "" (no
// limit). INVALID_ARGUMENT naming --duration otherwise.
[[nodiscard]] absl::StatusOr<std::optional<absl::Duration>> ParseRunDuration(
    const std::string& text);

// A delay such as "0", "250ms", "2s": zero or positive, finite. INVALID_ARGUMENT naming `flag`
// otherwise.
[[nodiscard]] absl::StatusOr<absl::Duration> ParseDelay(const std::string& flag,
                                                        const std::string& text);

// The options `flags` ask for, with `enroll_token`; INVALID_ARGUMENT naming the flag when one is
// out of range (ValidateOptions).
[[nodiscard]] absl::StatusOr<SimulatorOptions> SimulatorOptionsFrom(const SimFlags& flags,
                                                                    std::string enroll_token);

// The token in `path`, without surrounding white space. An error naming the file when it cannot
// be read (the errno's code) or holds no token (INVALID_ARGUMENT).
[[nodiscard]] absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_SIM_SIM_FLAGS_H_
