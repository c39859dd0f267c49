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
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "storage/etcd/etcd_client.h"
#include "storage/etcd/etcd_connection.h"

namespace fleet::testing {
namespace {

constexpr int kLaunchAttempts = 3;
constexpr absl::Duration kStopTimeout = absl::Seconds(30);
constexpr absl::Duration kPollInterval = absl::Milliseconds(50);

// `n` distinct loopback ports that were free a moment ago: bound to port 0 together (so the
// kernel cannot hand out the same one twice), then closed for etcd to take.
absl::StatusOr<std::vector<int>> PickFreePorts(size_t n) {
  std::vector<int> fds(n, -1);
  std::vector<int> ports(n, 0);
  absl::Status status;
  for (size_t i = 0; i < n && status.ok(); ++i) {
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
  return ports;
}

std::string PeerUrl(int port) { return absl::StrCat("http://127.0.0.1:", port); }

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
  absl::Status status;
  for (int attempt = 0; attempt < kLaunchAttempts; ++attempt) {
    absl::StatusOr<std::vector<std::unique_ptr<EtcdProcess>>> started = StartCluster(1, options);
    if (started.ok()) return std::move(started->front());
    status = started.status();
    // Someone else took a port between our closing it and etcd binding it: try new ones.
    if (!absl::StrContains(status.message(), "address already in use")) break;
  }
  return status;
}

absl::StatusOr<std::vector<std::unique_ptr<EtcdProcess>>> EtcdProcess::StartCluster(
    size_t members, const EtcdProcessOptions& options) {
  absl::StatusOr<std::string> version = ReadVersion(options.etcd_bin);
  if (!version.ok()) return version.status();
  absl::StatusOr<std::vector<int>> ports = PickFreePorts(2 * members);
  if (!ports.ok()) return ports.status();
  std::vector<std::string> initial_cluster;
  for (size_t i = 0; i < members; ++i) {
    initial_cluster.push_back(absl::StrCat("m", i, "=", PeerUrl((*ports)[2 * i + 1])));
  }
  const std::string cluster = absl::StrJoin(initial_cluster, ",");
  std::vector<std::unique_ptr<EtcdProcess>> started;
  for (size_t i = 0; i < members; ++i) {
    std::unique_ptr<EtcdProcess> etcd(new EtcdProcess());
    etcd->version_ = *version;
    etcd->options_ = options;
    etcd->name_ = absl::StrCat("m", i);
    etcd->initial_cluster_ = cluster;
    etcd->client_port_ = (*ports)[2 * i];
    etcd->peer_port_ = (*ports)[2 * i + 1];
    etcd->data_dir_ = etcd->dir_.Sub("data");
    etcd->log_path_ = etcd->dir_.Sub("etcd.log");
    etcd->endpoint_ = absl::StrCat("127.0.0.1:", etcd->client_port_);
    if (absl::Status s = etcd->Spawn(); !s.ok()) return s;
    started.push_back(std::move(etcd));
  }
  // A member serves only once a quorum is up, so every one is started before any is waited on.
  for (std::unique_ptr<EtcdProcess>& etcd : started) {
    if (absl::Status s = etcd->WaitServing(options.start_timeout); !s.ok()) return s;
  }
  return started;
}

absl::Status EtcdProcess::Spawn() {
  const bool tls = !options_.tls.cert_file.empty();
  const std::string client_url = absl::StrCat(tls ? "https://" : "http://", endpoint_);
  const std::string peer_url = PeerUrl(peer_port_);
  // sh only redirects etcd's output into the log and execs it, so the child's pid is etcd's.
  std::vector<std::string> argv = {"/bin/sh",
                                   "-c",
                                   "exec \"$0\" \"$@\" >>\"$FLEET_ETCD_LOG\" 2>&1",
                                   options_.etcd_bin,
                                   "--name=" + name_,
                                   "--data-dir=" + data_dir_,
                                   "--listen-client-urls=" + client_url,
                                   "--advertise-client-urls=" + client_url,
                                   "--listen-peer-urls=" + peer_url,
                                   "--initial-advertise-peer-urls=" + peer_url,
                                   "--initial-cluster=" + initial_cluster_,
                                   "--initial-cluster-state=new",
                                   "--logger=zap",
                                   "--log-outputs=stderr"};
  if (tls) {
    argv.push_back("--cert-file=" + options_.tls.cert_file);
    argv.push_back("--key-file=" + options_.tls.key_file);
    argv.push_back("--trusted-ca-file=" + options_.tls.client_ca_file);
    argv.push_back("--client-cert-auth");
  }
  argv.insert(argv.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  absl::StatusOr<std::unique_ptr<Subprocess>> process =
      Subprocess::Start(argv, {"FLEET_ETCD_LOG=" + log_path_});
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  stopped_ = false;
  return absl::OkStatus();
}

absl::Status EtcdProcess::WaitServing(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Status last = absl::UnavailableError("no answer yet");
  while (absl::Now() < deadline) {
    if (std::optional<int> exited = process_->Wait(absl::ZeroDuration()); exited.has_value()) {
      stopped_ = true;
      return absl::UnavailableError(absl::StrCat("etcd exited (wait status ", *exited,
                                                 ") before serving; its log ends: ", LogTail()));
    }
    absl::Status probe = Probe();
    if (probe.ok()) return absl::OkStatus();
    last = probe;
    absl::SleepFor(kPollInterval);
  }
  absl::Status stopped = Stop();
  return absl::UnavailableError(absl::StrCat(
      "etcd did not serve within ", absl::FormatDuration(timeout), " (last: ", last.ToString(),
      "; stop: ", stopped.ToString(), "); its log ends: ", LogTail()));
}

absl::Status EtcdProcess::Probe() const {
  if (options_.tls.cert_file.empty()) {
    // A channel per probe: one that found the port closed would wait out gRPC's reconnect
    // backoff (1 s, growing) before trying again, and a channel of its own shares no backoff.
    storage::etcd::EtcdClient client(storage::etcd::NewEtcdChannel(endpoint_, true), endpoint_,
                                     {.call_timeout = absl::Seconds(1)});
    absl::StatusOr<storage::etcd::EtcdValue> probe = client.Get("/fleetd-etcd-process/ready");
    return probe.ok() || absl::IsNotFound(probe.status()) ? absl::OkStatus() : probe.status();
  }
  absl::StatusOr<std::unique_ptr<storage::etcd::EtcdConnection>> connection =
      storage::etcd::EtcdConnection::Open({.endpoints = {endpoint_},
                                           .tls = {.ca_file = options_.tls.client_ca_file,
                                                   .cert_file = options_.tls.probe_cert_file,
                                                   .key_file = options_.tls.probe_key_file},
                                           .call_timeout = absl::Seconds(1),
                                           .retry_budget = absl::Seconds(1)});
  if (!connection.ok()) return connection.status();
  etcdserverpb::RangeRequest request;
  request.set_key("/fleetd-etcd-process/ready");
  return (*connection)
      ->Call("Range", storage::etcd::EtcdConnection::Kind::kRead,
             [&](const storage::etcd::EtcdConnection::Stubs& stubs, grpc::ClientContext& context) {
               etcdserverpb::RangeResponse response;
               return stubs.kv.Range(&context, request, &response);
             });
}

void EtcdProcess::Kill() {
  if (stopped_) return;
  process_->Signal(SIGKILL);
  process_->Wait(kStopTimeout);
  stopped_ = true;
  stop_status_ = absl::OkStatus();
}

absl::Status EtcdProcess::Restart() {
  if (!stopped_) return absl::FailedPreconditionError("etcd is still running; stop it first");
  // The data dir says the member exists: it rejoins rather than bootstrapping again.
  if (absl::Status s = Spawn(); !s.ok()) return s;
  return absl::OkStatus();
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
