// A real etcd child process on loopback, alone or as a member of a cluster started together, for
// the etcd client's and Store's tests and the etcd benchmarks: its data dir and log in a temp dir
// of its own, client and peer URLs on free 127.0.0.1 ports, ready once a Get answers. etcd keeps
// its defaults, fsync included, so what a benchmark measures is what an operator would run.
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
  // TLS for etcd's clients: its certificate and key, and the CA client certificates must be
  // signed by (--client-cert-auth). All empty: plaintext. With TLS the readiness probe presents
  // `probe_cert`/`probe_key`.
  struct Tls {
    std::string cert_file;
    std::string key_file;
    std::string client_ca_file;
    std::string probe_cert_file;
    std::string probe_key_file;
  } tls;
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
  // Starts a cluster of `members` (named m0, m1, ...) and waits until every one serves. The
  // errors of Start, without its retry on a taken port.
  [[nodiscard]] static absl::StatusOr<std::vector<std::unique_ptr<EtcdProcess>>> StartCluster(
      size_t members, const EtcdProcessOptions& options = {});

  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  // "127.0.0.1:PORT", for EtcdClient and NewEtcdChannel (plaintext) or an EtcdConnection (TLS).
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
  // SIGKILL, and waits for it to die: a member that fails without warning.
  void Kill();
  // Starts a stopped or killed member again on its data dir and ports; it rejoins its cluster.
  // Returns once it runs (WaitServing tells when it serves). FAILED_PRECONDITION while it runs.
  absl::Status Restart();
  // Waits until etcd answers a Get; UNAVAILABLE (and stops it) after `timeout` or when it exits.
  absl::Status WaitServing(absl::Duration timeout);

 private:
  EtcdProcess() = default;
  // Starts the process on the chosen name, ports and data dir.
  absl::Status Spawn();
  // OK once etcd answers a read.
  absl::Status Probe() const;
  // The last `max_bytes` of the log.
  std::string LogTail(size_t max_bytes = 4096) const;

  TempDir dir_;
  EtcdProcessOptions options_;
  std::string name_;
  std::string initial_cluster_;
  int client_port_ = 0;
  int peer_port_ = 0;
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
