// agent-sim: simulates N fleetd agents on M connections and reports what they saw. See --help.
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/synchronization/mutex.h"
#include "agent-sim/sim_flags.h"
#include "agent-sim/sim_run.h"

namespace {

int Fail(int exit_code, const absl::Status& status) {
  std::cerr << "agent-sim: error: " << status.message() << "\n";
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil is built with mutex deadlock detection on, which keeps a global lock graph
  // and takes a global lock on every Mutex operation: correctness tooling that tests keep, and
  // that a server (or a benchmark) pays for on every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{
      "Simulates fleetd agents: enrolls each once (identities kept in --state-dir), keeps their "
      "Connect streams open, applies and acks (or nacks) policy updates, runs actions (ACCEPTED, "
      "RUNNING with progress, then SUCCEEDED or FAILED; one done at once, with no steps, is "
      "answered with its final state alone; an upgrade reconnects with its new version), answers "
      "live queries with synthetic rows, and prints a JSON report at the end: "
      "agents, enrolled, connected, updates {delta, full}, acks, nacks, reconnects, errors, "
      "rotations, latency_ms {p50, p90, p99, max} from commit to apply, actions {received, "
      "repeated, succeeded, failed, rejected, cancelled}, queries {received, answered, errored, "
      "dropped}.\n"
      "Exit codes: 0 done, 1 runtime error (token file, server unreachable), 2 bad flags.",
      "agent-sim"};
  fleet::agent::SimFlags flags;
  fleet::agent::AddSimFlags(app, flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return Fail(2, absl::InvalidArgumentError(e.what()));
  }
  absl::StatusOr<std::optional<absl::Duration>> duration =
      fleet::agent::ParseRunDuration(flags.duration);
  if (!duration.ok()) return Fail(2, duration.status());
  if (absl::Status valid = fleet::agent::SimulatorOptionsFrom(flags, "").status(); !valid.ok()) {
    return Fail(2, valid);
  }
  absl::StatusOr<std::string> token = fleet::agent::ReadTokenFile(flags.enroll_token_file);
  if (!token.ok()) return Fail(1, token.status());
  absl::StatusOr<fleet::agent::SimulatorOptions> options =
      fleet::agent::SimulatorOptionsFrom(flags, *std::move(token));
  if (!options.ok()) return Fail(2, options.status());
  absl::Status run = fleet::agent::RunAgentSim(
      {.simulator = *std::move(options), .duration = *duration, .report_path = flags.report});
  return run.ok() ? 0 : Fail(1, run);
}
