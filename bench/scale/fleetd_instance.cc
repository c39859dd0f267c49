#include "bench/scale/fleetd_instance.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace fleet::bench {
namespace {

constexpr absl::Duration kStartTimeout = absl::Seconds(60);
constexpr absl::Duration kStopTimeout = absl::Seconds(60);

// The log from byte `offset` on.
std::string ReadFrom(const std::string& path, std::streamoff offset) {
  std::ifstream file(path);
  file.seekg(offset);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::streamoff FileSize(const std::string& path) {
  std::ifstream file(path, std::ios::ate);
  return file ? static_cast<std::streamoff>(file.tellg()) : 0;
}

std::string Tail(const std::string& text, size_t bytes) {
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

// The value of "Key:" in /proc/PID/<file>, whitespace-trimmed.
absl::StatusOr<std::string> ProcField(pid_t pid, const std::string& file, const std::string& key) {
  const std::string path = absl::StrCat("/proc/", pid, "/", file);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, key)) return std::string(absl::StripAsciiWhitespace(rest));
  }
  return absl::NotFoundError(absl::StrCat(path, " has no \"", key, "\""));
}

}  // namespace

absl::StatusOr<int> FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  const int error = errno;
  close(fd);
  if (!ok) return absl::ErrnoToStatus(error, "cannot find a free loopback port");
  return ntohs(address.sin_port);
}

absl::StatusOr<std::unique_ptr<FleetdInstance>> FleetdInstance::Start(FleetdOptions options) {
  absl::StatusOr<int> admin = FreeLoopbackPort();
  if (!admin.ok()) return admin.status();
  absl::StatusOr<int> agent = FreeLoopbackPort();
  if (!agent.ok()) return agent.status();
  std::unique_ptr<FleetdInstance> instance(new FleetdInstance(
      std::move(options), absl::StrCat("127.0.0.1:", *admin), absl::StrCat("127.0.0.1:", *agent)));
  if (absl::Status launched = instance->Launch(); !launched.ok()) return launched;
  return instance;
}

FleetdInstance::~FleetdInstance() {
  if (process_ != nullptr) (void)Stop();
}

absl::Status FleetdInstance::Launch() {
  const std::streamoff log_start = FileSize(options_.log_path);
  // The shell only redirects and execs, so the pid is fleetd's.
  std::vector<std::string> argv = {"/bin/sh",
                                   "-c",
                                   "log=\"$1\"; shift; exec \"$@\" >>\"$log\" 2>&1",
                                   "fleetd-launch",
                                   options_.log_path,
                                   options_.binary,
                                   "--data-dir",
                                   options_.data_dir,
                                   "--admin-addr",
                                   admin_address_,
                                   "--agent-addr",
                                   agent_address_};
  argv.insert(argv.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  absl::StatusOr<std::unique_ptr<testing::Subprocess>> process = testing::Subprocess::Start(argv);
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  const absl::Time deadline = absl::Now() + kStartTimeout;
  while (absl::Now() < deadline) {
    const std::string log = ReadFrom(options_.log_path, log_start);
    if (absl::StrContains(log, "fleetd listening")) return absl::OkStatus();
    if (process_->Wait(absl::Milliseconds(50)).has_value()) {
      process_.reset();
      return absl::InternalError(absl::StrCat("fleetd exited at start: ", Tail(log, 2000)));
    }
  }
  (void)Stop();
  return absl::DeadlineExceededError(
      absl::StrCat("fleetd did not serve within ", absl::FormatDuration(kStartTimeout), ": ",
                   Tail(ReadFrom(options_.log_path, log_start), 2000)));
}

absl::Status FleetdInstance::Stop() {
  if (process_ == nullptr) return absl::OkStatus();
  process_->Signal(SIGTERM);
  std::optional<int> status = process_->Wait(kStopTimeout);
  absl::Status result = absl::OkStatus();
  if (!status.has_value()) {
    process_->Signal(SIGKILL);
    process_->Wait(absl::Seconds(10));
    result = absl::DeadlineExceededError("fleetd did not stop within 60 s of SIGTERM; killed it");
  } else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    result = absl::InternalError(absl::StrCat("fleetd stopped with wait status ", *status, ": ",
                                              Tail(ReadFrom(options_.log_path, 0), 2000)));
  }
  process_.reset();
  return result;
}

absl::Status FleetdInstance::Restart() {
  if (absl::Status stopped = Stop(); !stopped.ok()) return stopped;
  return Launch();
}

absl::StatusOr<int64_t> FleetdInstance::RssBytes() const {
  absl::StatusOr<std::string> rss = ProcField(pid(), "status", "VmRSS:");
  if (!rss.ok()) return rss.status();
  int64_t kb = 0;
  if (!absl::SimpleAtoi(absl::StripSuffix(*rss, " kB"), &kb)) {
    return absl::InternalError(absl::StrCat("unexpected VmRSS: ", *rss));
  }
  return kb * 1024;
}

absl::StatusOr<std::string> FleetdInstance::FdLimit() const {
  absl::StatusOr<std::string> line = ProcField(pid(), "limits", "Max open files");
  if (!line.ok()) return line.status();
  std::vector<std::string> fields = absl::StrSplit(*line, ' ', absl::SkipWhitespace());
  if (fields.size() < 2) return absl::InternalError(absl::StrCat("unexpected limits: ", *line));
  return absl::StrCat(fields[0], "/", fields[1]);
}

}  // namespace fleet::bench
