// A real single-member etcd child process on loopback, for the etcd client's tests and the etcd
// benchmarks: its data dir and log in a temp dir of its own, client and peer URLs on free
// 127.0.0.1 ports, ready once a Get answers. etcd keeps its defaults, fsync included, so what a
// benchmark measures is what an operator would run.
#ifndef FLEETD_TESTS_TESTING_ETCD_PROCESS_H_
#define FLEETD_TESTS_TESTING_ETCD_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace fleet::testing {

inline constexpr char kDefaultEtcdBinary[] = "/usr/bin/etcd";

struct EtcdProcessOptions {
  std::string etcd_bin = kDefaultEtcdBinary;
  // Flags added after ours (etcd takes the last of a repeated flag).
  std::vector<std::string> extra_flags;
  // How long etcd may take to answer its first Get.
  absl::Duration start_timeout = absl::Seconds(30);
};

// Not thread-safe; one owner starts and stops it. Stops etcd (SIGTERM, then SIGKILL) and removes
// its temp dir on destruction.
class EtcdProcess {
 public:
  // Starts etcd and waits until it serves. A port taken between our choosing it and etcd binding
  // it is retried with new ports. Errors: NOT_FOUND when `etcd_bin` cannot run (callers may skip
  // on it); UNAVAILABLE, with the end of etcd's log, when it exited or did not answer within
  // start_timeout.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EtcdProcess>> Start(
      const EtcdProcessOptions& options = {});

  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // "127.0.0.1:PORT", for EtcdClient and NewEtcdChannel.
  const std::string& endpoint() const { return endpoint_; }
  // What `etcd --version` says, e.g. "3.4.23".
  const std::string& Version() const { return version_; }
  const std::string& data_dir() const { return data_dir_; }
  // etcd's stdout and stderr go here, not to a pipe that could fill up and stall it.
  const std::string& log_path() const { return log_path_; }
  pid_t pid() const { return process_->pid(); }

  // Sends SIGTERM and waits up to 30 s (then SIGKILL). OK when etcd ended on the signal or had
  // already exited with 0; INTERNAL, with the end of its log, when it had died otherwise;
  // DEADLINE_EXCEEDED when it had to be killed. Idempotent.
  absl::Status Stop();

 private:
  EtcdProcess() = default;
  // One attempt at Start on freshly chosen ports.
  absl::Status Launch(const EtcdProcessOptions& options);
  // The last `max_bytes` of the log.
  std::string LogTail(size_t max_bytes = 4096) const;

  TempDir dir_;
  std::string data_dir_;
  std::string log_path_;
  std::string endpoint_;
  std::string version_;
  std::unique_ptr<Subprocess> process_;
  bool stopped_ = false;
  absl::Status stop_status_;
};

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_ETCD_PROCESS_H_
