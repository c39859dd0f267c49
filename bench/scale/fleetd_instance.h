// A real fleetd child process for the scale benchmarks: on its own data dir, on loopback ports
// chosen once so that a restart keeps the address agents reconnect to, with its log appended to a
// file (a pipe nobody reads would fill up and stall it). Every wait is bounded.
#ifndef FLEETD_BENCH_SCALE_FLEETD_INSTANCE_H_
#define FLEETD_BENCH_SCALE_FLEETD_INSTANCE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/testing/subprocess.h"

namespace fleet::bench {

struct FleetdOptions {
  std::string binary;
  std::string data_dir;
  // fleetd's stdout and stderr are appended here.
  std::string log_path;
  // More flags, e.g. {"--heartbeat-interval", "60s"}.
  std::vector<std::string> extra_flags;
};

// Not thread-safe; one owner drives it.
class FleetdInstance {
 public:
  // Picks two free loopback ports, starts fleetd and waits (up to 60 s) until it serves. The
  // error carries the end of its log.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<FleetdInstance>> Start(FleetdOptions options);

  // Stops it if it runs.
  ~FleetdInstance();

  // SIGTERM, and waits up to 60 s for a clean exit (SIGKILL after that, reported as an error).
  absl::Status Stop();
  // Stops and starts again on the same data dir and ports.
  absl::Status Restart();

  const std::string& admin_address() const { return admin_address_; }
  const std::string& agent_address() const { return agent_address_; }
  // The bootstrap admin token fleetd wrote on its first start.
  std::string bootstrap_token_file() const { return options_.data_dir + "/bootstrap-admin.token"; }
  // The running process's resident set size (VmRSS), in bytes.
  [[nodiscard]] absl::StatusOr<int64_t> RssBytes() const;
  // The running process's open-file limit, as /proc/PID/limits says ("soft/hard").
  [[nodiscard]] absl::StatusOr<std::string> FdLimit() const;

 private:
  FleetdInstance(FleetdOptions options, std::string admin, std::string agent)
      : options_(std::move(options)),
        admin_address_(std::move(admin)),
        agent_address_(std::move(agent)) {}
  absl::Status Launch();
  pid_t pid() const { return process_ == nullptr ? -1 : process_->pid(); }

  const FleetdOptions options_;
  const std::string admin_address_;
  const std::string agent_address_;
  std::unique_ptr<testing::Subprocess> process_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
[[nodiscard]] absl::StatusOr<int> FreeLoopbackPort();

}  // namespace fleet::bench

#endif  // FLEETD_BENCH_SCALE_FLEETD_INSTANCE_H_
