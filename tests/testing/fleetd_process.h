// A real fleetd child process, for the end-to-end tests and the scale benchmarks: on a data dir,
// both APIs and the HTTP endpoint on 127.0.0.1, ready once its "fleetd listening" line names the
// ports it got. The first
// start asks for port 0; a restart asks for the same ports again, so that agents reconnect to the
// address they know. Its output is either piped back (a test reads it as it comes) or appended to
// a file (a long run whose output nobody reads would fill a pipe and stall fleetd). Every wait is
// bounded. No GoogleTest here: the benchmarks link it too.
#ifndef FLEETD_TESTS_TESTING_FLEETD_PROCESS_H_
#define FLEETD_TESTS_TESTING_FLEETD_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/subprocess.h"

namespace fleet::testing {

struct FleetdOptions {
  std::string binary;
  std::string data_dir;
  // More flags, after ours, e.g. {"--heartbeat-interval", "60s"}.
  std::vector<std::string> extra_flags;
  // When set, fleetd's stdout and stderr are appended to this file; else they are piped back and
  // process() reads them.
  std::string log_path;
  // When set, fleetd runs under this open-file limit, soft and hard, so that it cannot raise it.
  std::optional<int> open_file_limit;
  // How long fleetd may take to print "fleetd listening", and to exit after SIGTERM.
  absl::Duration start_timeout = absl::Seconds(60);
  absl::Duration stop_timeout = absl::Seconds(60);
  // Whether to ask for the HTTP endpoint on a port of its own (--http-addr); false for fleetd
  // builds older than that flag.
  bool http = true;
};

// Not thread-safe; one owner drives it.
class FleetdProcess {
 public:
  // Starts fleetd and waits until it serves. INTERNAL, with what fleetd printed, when it exited
  // first or printed a listening line without two loopback addresses; DEADLINE_EXCEEDED (and
  // fleetd killed) when it did not serve within start_timeout; the error of starting it otherwise.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<FleetdProcess>> Start(FleetdOptions options);
  // Start with `binary`, `data_dir` and `extra_flags`, output piped back.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<FleetdProcess>> Start(
      const std::string& binary, const std::string& data_dir,
      const std::vector<std::string>& extra_flags = {});

  // Stops fleetd (as Stop does) when it still runs.
  ~FleetdProcess();
  FleetdProcess(const FleetdProcess&) = delete;
  FleetdProcess& operator=(const FleetdProcess&) = delete;

  // Sends SIGTERM and waits up to stop_timeout for fleetd to exit. OK when it exited with 0 (also
  // when it had already exited so, e.g. after a signal sent through process()); INTERNAL, with the
  // end of its output, for any other exit; DEADLINE_EXCEEDED when it had to be killed. OK when
  // not running.
  absl::Status Stop();
  // Stops fleetd and starts it again on the same data dir and ports; errors as Stop, then Start.
  absl::Status Restart();

  // "127.0.0.1:PORT", fixed from the first start on.
  const std::string& admin_address() const { return admin_address_; }
  const std::string& agent_address() const { return agent_address_; }
  // The HTTP endpoint's, "127.0.0.1:PORT"; empty when extra flags turned it off.
  const std::string& http_address() const { return http_address_; }
  const std::string& data_dir() const { return options_.data_dir; }
  // Empty when the output is piped.
  const std::string& log_path() const { return options_.log_path; }
  // The bootstrap admin token fleetd writes on its first start: DATA_DIR/bootstrap-admin.token.
  std::string bootstrap_token_file() const { return options_.data_dir + "/bootstrap-admin.token"; }
  // What fleetd printed at its latest start, up to and including the "fleetd listening" line.
  const std::string& startup_log() const { return startup_log_; }

  // Whether a started fleetd has not been stopped yet (it may have exited on its own).
  bool running() const { return process_ != nullptr; }
  // The child, only while running(): to signal it, wait for it and, with piped output, read what
  // fleetd prints after startup_log().
  Subprocess& process() { return *process_; }
  // Its pid (fleetd's own, also under a wrapper shell, which execs it), or -1 when not running.
  pid_t pid() const { return process_ == nullptr ? -1 : process_->pid(); }

  // The running process's resident set size (VmRSS), in bytes.
  [[nodiscard]] absl::StatusOr<int64_t> RssBytes() const;
  // The running process's open-file limit, as /proc/PID/limits says: "soft/hard".
  [[nodiscard]] absl::StatusOr<std::string> FdLimit() const;
  // The CPU time the running process has used so far, user plus system, in seconds (with the
  // kernel's clock tick resolution, usually 10 ms).
  [[nodiscard]] absl::StatusOr<double> CpuSeconds() const;

 private:
  explicit FleetdProcess(FleetdOptions options) : options_(std::move(options)) {}
  // Starts the child and waits for its listening line, on the ports of the first start if any.
  absl::Status Launch();
  // The next line fleetd prints, or nullopt once it has exited with nothing more, or at
  // `deadline`.
  std::optional<std::string> NextLine(absl::Time deadline);
  // The last few KB of what fleetd printed since its latest start: the log file from then on, or
  // startup_log(); then `more`.
  std::string OutputTail(const std::string& more) const;

  const FleetdOptions options_;
  std::string admin_address_;
  std::string agent_address_;
  std::string http_address_;
  std::string startup_log_;
  std::unique_ptr<Subprocess> process_;
  // With a log file: where the latest start's output begins, how far NextLine has read, and the
  // part of a line read so far.
  int64_t log_start_ = 0;
  int64_t log_read_ = 0;
  std::string partial_line_;
};

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_FLEETD_PROCESS_H_
