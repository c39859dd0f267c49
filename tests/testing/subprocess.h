// Child processes for end-to-end and crash tests: start a real binary with its stdout and stderr
// piped back, read its output line by line with timeouts, signal it, wait for it. Every wait is
// bounded; a Subprocess still running at destruction is killed with SIGKILL and reaped.
#ifndef FLEETD_TESTS_TESTING_SUBPROCESS_H_
#define FLEETD_TESTS_TESTING_SUBPROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fleet::testing {

class Subprocess {
 public:
  // Starts argv[0] (a path) with `argv`, with stdin from /dev/null (or `stdin_data` written to a
  // pipe), stdout and stderr piped. Extra `env` entries ("NAME=value") are added to ours.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
      const std::optional<std::string>& stdin_data = std::nullopt);

  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }

  // The next whole line of stdout / stderr (without the newline), waiting up to `timeout`.
  // nullopt on timeout or end of stream.
  std::optional<std::string> ReadStdoutLine(absl::Duration timeout);
  std::optional<std::string> ReadStderrLine(absl::Duration timeout);

  // Waits for a stderr line containing `needle`; returns that line, or nullopt after `timeout`.
  std::optional<std::string> WaitForStderr(const std::string& needle, absl::Duration timeout);

  // Everything stdout / stderr said until the stream closed or `timeout` passed; includes what
  // ReadStdoutLine / ReadStderrLine have not yet returned.
  std::string DrainStdout(absl::Duration timeout);
  std::string DrainStderr(absl::Duration timeout);
  // Both at once, so that neither pipe fills up while the other is read.
  void DrainBoth(absl::Duration timeout, std::string& out, std::string& err);

  void Signal(int signal);

  // The raw wait status once the child exits, or nullopt when it still runs after `timeout`.
  std::optional<int> Wait(absl::Duration timeout);

 private:
  struct Stream {
    int fd = -1;
    std::string buffer;
    bool eof = false;
  };
  explicit Subprocess(pid_t pid, int out_fd, int err_fd);
  // Waits until one of `streams` has data or ends, and reads it. False on timeout, or when all
  // have ended.
  static bool ReadSome(const std::vector<Stream*>& streams, absl::Time deadline);
  static std::optional<std::string> ReadLine(Stream& stream, absl::Duration timeout);
  static std::string Take(Stream& stream);

  pid_t pid_;
  std::optional<int> status_;
  Stream out_;
  Stream err_;
};

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out
  std::string out;
  std::string err;
};

// The exit code of a child that exited, from its raw wait status; -1 for one killed by a signal,
// or for nullopt (still running).
int ExitCode(std::optional<int> wait_status);

// Runs a command to completion (killing it after `timeout`) and returns what it printed.
absl::StatusOr<CommandResult> RunCommand(
    const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
    const std::optional<std::string>& stdin_data = std::nullopt,
    absl::Duration timeout = absl::Seconds(60));

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_SUBPROCESS_H_
