#include "tests/testing/etcd_process.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "storage/etcd/etcd_client.h"

namespace fleet::testing {
namespace {

constexpr int kLaunchAttempts = 3;
constexpr absl::Duration kStopTimeout = absl::Seconds(30);
constexpr absl::Duration kPollInterval = absl::Milliseconds(50);

// Two distinct loopback ports that were free a moment ago: bound to port 0 together (so the
// kernel cannot hand out the same one twice), then closed for etcd to take.
absl::StatusOr<std::pair<int, int>> PickTwoFreePorts() {
  int fds[2] = {-1, -1};
  int ports[2] = {0, 0};
  absl::Status status;
  for (int i = 0; i < 2 && status.ok(); ++i) {
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fds[i] < 0 || bind(fds[i], reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        getsockname(fds[i], reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      status = absl::InternalError(absl::StrCat("picking a free port: ", std::strerror(errno)));
    }
    ports[i] = ntohs(addr.sin_port);
  }
  for (int fd : fds) {
    if (fd >= 0) close(fd);
  }
  if (!status.ok()) return status;
  return std::make_pair(ports[0], ports[1]);
}

// "3.4.23" out of `etcd --version`'s "etcd Version: 3.4.23" line.
absl::StatusOr<std::string> ReadVersion(const std::string& etcd_bin) {
  absl::StatusOr<CommandResult> result =
      RunCommand({etcd_bin, "--version"}, {}, std::nullopt, absl::Seconds(10));
  if (!result.ok() || result->exit_code != 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot run ", etcd_bin,
                     " --version: ", result.ok() ? result->err : result.status().ToString()));
  }
  for (absl::string_view line : absl::StrSplit(result->out, '\n')) {
    if (absl::ConsumePrefix(&line, "etcd Version:")) {
      return std::string(absl::StripAsciiWhitespace(line));
    }
  }
  return absl::NotFoundError(
      absl::StrCat(etcd_bin, " --version did not name a version: ", result->out));
}

}  // namespace

absl::StatusOr<std::unique_ptr<EtcdProcess>> EtcdProcess::Start(const EtcdProcessOptions& options) {
  absl::StatusOr<std::string> version = ReadVersion(options.etcd_bin);
  if (!version.ok()) return version.status();
  std::unique_ptr<EtcdProcess> etcd(new EtcdProcess());
  etcd->version_ = *std::move(version);
  etcd->data_dir_ = etcd->dir_.Sub("data");
  etcd->log_path_ = etcd->dir_.Sub("etcd.log");
  absl::Status status;
  for (int attempt = 0; attempt < kLaunchAttempts; ++attempt) {
    status = etcd->Launch(options);
    // Someone else took a port between our closing it and etcd binding it: try new ones.
    if (status.ok() || !absl::StrContains(status.message(), "address already in use")) break;
  }
  if (!status.ok()) return status;
  return etcd;
}

absl::Status EtcdProcess::Launch(const EtcdProcessOptions& options) {
  absl::StatusOr<std::pair<int, int>> ports = PickTwoFreePorts();
  if (!ports.ok()) return ports.status();
  // A failed attempt may have left a member directory that names the old peer port.
  std::error_code ignored;  // a data dir that was never made is not an error
  std::filesystem::remove_all(data_dir_, ignored);
  endpoint_ = absl::StrCat("127.0.0.1:", ports->first);
  const std::string client_url = absl::StrCat("http://", endpoint_);
  const std::string peer_url = absl::StrCat("http://127.0.0.1:", ports->second);

  // sh only redirects etcd's output into the log and execs it, so the child's pid is etcd's.
  std::vector<std::string> argv = {"/bin/sh",
                                   "-c",
                                   "exec \"$0\" \"$@\" >>\"$FLEET_ETCD_LOG\" 2>&1",
                                   options.etcd_bin,
                                   "--name=default",
                                   "--data-dir=" + data_dir_,
                                   "--listen-client-urls=" + client_url,
                                   "--advertise-client-urls=" + client_url,
                                   "--listen-peer-urls=" + peer_url,
                                   "--initial-advertise-peer-urls=" + peer_url,
                                   "--initial-cluster=default=" + peer_url,
                                   "--initial-cluster-state=new",
                                   "--logger=zap",
                                   "--log-outputs=stderr"};
  argv.insert(argv.end(), options.extra_flags.begin(), options.extra_flags.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(argv, {"FLEET_ETCD_LOG=" + log_path_});
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  stopped_ = false;

  const absl::Time deadline = absl::Now() + options.start_timeout;
  absl::Status last = absl::UnavailableError("no answer yet");
  while (absl::Now() < deadline) {
    if (std::optional<int> exited = process_->Wait(absl::ZeroDuration()); exited.has_value()) {
      stopped_ = true;
      return absl::UnavailableError(absl::StrCat("etcd exited (wait status ", *exited,
                                                 ") before serving; its log ends: ", LogTail()));
    }
    // A channel per probe: one that found the port closed would wait out gRPC's reconnect
    // backoff (1 s, growing) before trying again, and a channel of its own shares no backoff.
    storage::etcd::EtcdClient client(storage::etcd::NewEtcdChannel(endpoint_, true), endpoint_,
                                     {.call_timeout = absl::Seconds(1)});
    absl::StatusOr<storage::etcd::EtcdValue> probe = client.Get("/fleetd-etcd-process/ready");
    if (probe.ok() || absl::IsNotFound(probe.status())) return absl::OkStatus();
    last = probe.status();
    absl::SleepFor(kPollInterval);
  }
  absl::Status stopped = Stop();
  return absl::UnavailableError(absl::StrCat(
      "etcd did not serve within ", absl::FormatDuration(options.start_timeout),
      " (last: ", last.ToString(), "; stop: ", stopped.ToString(), "); its log ends: ", LogTail()));
}

EtcdProcess::~EtcdProcess() {
  // A destructor has nobody to report a failed stop to.
  if (process_ != nullptr) Stop().IgnoreError();
}

absl::Status EtcdProcess::Stop() {
  if (stopped_) return stop_status_;
  stopped_ = true;
  // Whether etcd had already exited, and how.
  std::optional<int> exited = process_->Wait(absl::ZeroDuration());
  if (exited.has_value()) {
    stop_status_ = WIFEXITED(*exited) && WEXITSTATUS(*exited) == 0
                       ? absl::OkStatus()
                       : absl::InternalError(absl::StrCat("etcd had died (wait status ", *exited,
                                                          "); its log ends: ", LogTail()));
    return stop_status_;
  }
  process_->Signal(SIGTERM);
  if (process_->Wait(kStopTimeout).has_value()) {
    stop_status_ = absl::OkStatus();
    return stop_status_;
  }
  process_->Signal(SIGKILL);
  process_->Wait(kStopTimeout);
  stop_status_ = absl::DeadlineExceededError(absl::StrCat(
      "etcd did not stop within ", absl::FormatDuration(kStopTimeout), " of SIGTERM; killed"));
  return stop_status_;
}

std::string EtcdProcess::LogTail(size_t max_bytes) const {
  std::ifstream in(log_path_, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  std::string log = contents.str();
  return log.size() <= max_bytes ? log : log.substr(log.size() - max_bytes);
}

}  // namespace fleet::testing
