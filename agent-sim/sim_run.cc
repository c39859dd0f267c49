#include "agent-sim/sim_run.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/fd_limit.h"

namespace fleet::agent {
namespace {

// Waits up to `timeout` for SIGINT or SIGTERM (blocked in `signals`); true when one came.
bool AwaitStopSignal(const sigset_t& signals, absl::Duration timeout) {
  const timespec wait = absl::ToTimespec(std::max(timeout, absl::ZeroDuration()));
  return sigtimedwait(&signals, nullptr, &wait) > 0;
}

absl::Status WriteReport(const SimulatorReport& report, const std::string& path) {
  const std::string text = report.ToJson().dump() + "\n";
  if (path.empty()) {
    std::cout << text << std::flush;
    return absl::OkStatus();
  }
  std::ofstream file(path, std::ios::trunc);
  file << text;
  file.close();
  if (!file) return absl::ErrnoToStatus(errno, absl::StrCat("cannot write report ", path));
  return absl::OkStatus();
}

void PrintProgress(const Simulator& simulator, int agents) {
  const SimulatorReport now = simulator.Report();
  const SimActivityCounts& activity = now.activity;
  std::cerr << absl::StrCat("agent-sim: ", simulator.connected_now(), "/", agents, " connected, ",
                            now.acks, " updates applied, ", now.nacks, " nacked, ", now.reconnects,
                            " reconnects, ", now.rotations, " credential rotations, ", now.errors,
                            " errors; actions ", activity.actions_received, " received, ",
                            activity.actions_succeeded, " succeeded, ", activity.actions_failed,
                            " failed, ", activity.actions_rejected, " rejected, ",
                            activity.actions_cancelled, " cancelled; queries ",
                            activity.queries_received, " received, ", activity.queries_answered,
                            " answered, ", activity.queries_errored, " errored\n")
            << std::flush;
}

}  // namespace

absl::Status RunAgentSim(const RunOptions& options) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  if (int error = pthread_sigmask(SIG_BLOCK, &signals, nullptr); error != 0) {
    return absl::ErrnoToStatus(error, "cannot block SIGINT and SIGTERM");
  }
  // One descriptor per connection: run with as many as the hard limit allows, and say so.
  absl::StatusOr<fleet::FdLimit> limit = fleet::RaiseFdLimit();
  if (!limit.ok()) return limit.status();
  std::cerr << absl::StrCat("agent-sim: open-file limit ", limit->soft, " (hard ", limit->hard,
                            ")\n");
  absl::StatusOr<std::unique_ptr<Simulator>> simulator = Simulator::Create(options.simulator);
  if (!simulator.ok()) return simulator.status();
  if (absl::Status enrolled = (*simulator)->Enroll(); !enrolled.ok()) return enrolled;
  (*simulator)->Start();

  const absl::Time end =
      options.duration.has_value() ? absl::Now() + *options.duration : absl::InfiniteFuture();
  for (;;) {
    const absl::Time now = absl::Now();
    if (now >= end) break;
    if (AwaitStopSignal(signals, std::min(options.progress_interval, end - now))) break;
    PrintProgress(**simulator, options.simulator.agents);
  }
  (*simulator)->Stop();
  return WriteReport((*simulator)->Report(), options.report_path);
}

}  // namespace fleet::agent
