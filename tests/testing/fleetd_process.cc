#include "tests/testing/fleetd_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace fleet::testing {
namespace {

constexpr char kListening[] = "fleetd listening";
constexpr absl::Duration kLogPoll = absl::Milliseconds(20);
constexpr absl::Duration kKillTimeout = absl::Seconds(10);
constexpr size_t kTailBytes = 4000;

// The value of `key=` in a "fleetd listening: admin=... agent=... [http=...] data-dir=..." line.
std::string ListeningField(const std::string& line, const std::string& key) {
  for (absl::string_view token : absl::StrSplit(line, ' ')) {
    if (absl::ConsumePrefix(&token, key + "=")) return std::string(token);
  }
  return "";
}

int64_t FileSize(const std::string& path) {
  std::ifstream file(path, std::ios::binary | std::ios::ate);
  return file ? static_cast<int64_t>(file.tellg()) : 0;
}

// The file from byte `offset` on; empty when it cannot be read.
std::string ReadFrom(const std::string& path, int64_t offset) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return "";
  file.seekg(offset);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::string Tail(const std::string& text) {
  return text.size() <= kTailBytes ? text : text.substr(text.size() - kTailBytes);
}

// "exit code N" or "killed by signal N".
std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("killed by signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

// The /proc/PID/`file` of a running process, read whole.
absl::StatusOr<std::string> ReadProc(pid_t pid, const std::string& file) {
  if (pid < 0) return absl::FailedPreconditionError("fleetd is not running");
  const std::string path = absl::StrCat("/proc/", pid, "/", file);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The rest of the line of /proc/PID/`file` that starts with `key`, whitespace-trimmed.
absl::StatusOr<std::string> ProcField(pid_t pid, const std::string& file, const std::string& key) {
  absl::StatusOr<std::string> text = ReadProc(pid, file);
  if (!text.ok()) return text.status();
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (absl::ConsumePrefix(&line, key)) return std::string(absl::StripAsciiWhitespace(line));
  }
  return absl::NotFoundError(absl::StrCat("/proc/", pid, "/", file, " has no \"", key, "\""));
}

}  // namespace

absl::StatusOr<std::unique_ptr<FleetdProcess>> FleetdProcess::Start(FleetdOptions options) {
  std::unique_ptr<FleetdProcess> fleetd(new FleetdProcess(std::move(options)));
  if (absl::Status launched = fleetd->Launch(); !launched.ok()) return launched;
  return fleetd;
}

absl::StatusOr<std::unique_ptr<FleetdProcess>> FleetdProcess::Start(
    const std::string& binary, const std::string& data_dir,
    const std::vector<std::string>& extra_flags) {
  return Start({.binary = binary, .data_dir = data_dir, .extra_flags = extra_flags});
}

FleetdProcess::~FleetdProcess() {
  Stop().IgnoreError();  // a destructor has no one to tell; callers who care call Stop first
}

absl::Status FleetdProcess::Launch() {
  std::vector<std::string> argv = {options_.binary,
                                   "--data-dir",
                                   options_.data_dir,
                                   "--admin-addr",
                                   admin_address_.empty() ? "127.0.0.1:0" : admin_address_,
                                   "--agent-addr",
                                   agent_address_.empty() ? "127.0.0.1:0" : agent_address_};
  if (options_.http) {
    argv.insert(argv.end(), {"--http-addr", http_address_.empty() ? "127.0.0.1:0" : http_address_});
  }
  argv.insert(argv.end(), options_.extra_flags.begin(), options_.extra_flags.end());
  // A shell sets the limit and the redirection, then execs fleetd, so the pid stays fleetd's.
  // dash and bash both set the soft and the hard limit with `ulimit -n`.
  if (!options_.log_path.empty() || options_.open_file_limit.has_value()) {
    std::string script;
    std::vector<std::string> wrapper = {"/bin/sh", "-c", "", "fleetd-launch"};
    if (!options_.log_path.empty()) {
      script = "log=\"$1\"; shift; ";
      wrapper.push_back(options_.log_path);
    }
    if (options_.open_file_limit.has_value()) {
      absl::StrAppend(&script, "ulimit -n ", *options_.open_file_limit, " && ");
    }
    absl::StrAppend(&script, "exec \"$@\"", options_.log_path.empty() ? "" : " >>\"$log\" 2>&1");
    wrapper[2] = script;
    wrapper.insert(wrapper.end(), argv.begin(), argv.end());
    argv = std::move(wrapper);
  }
  log_start_ = log_read_ = options_.log_path.empty() ? 0 : FileSize(options_.log_path);
  partial_line_.clear();
  startup_log_.clear();
  absl::StatusOr<std::unique_ptr<Subprocess>> process = Subprocess::Start(argv);
  if (!process.ok()) return process.status();
  process_ = *std::move(process);

  const absl::Time deadline = absl::Now() + options_.start_timeout;
  while (std::optional<std::string> line = NextLine(deadline)) {
    absl::StrAppend(&startup_log_, *line, "\n");
    if (!absl::StrContains(*line, kListening)) continue;
    std::string admin = ListeningField(*line, "admin");
    std::string agent = ListeningField(*line, "agent");
    if (!absl::StartsWith(admin, "127.0.0.1:") || !absl::StartsWith(agent, "127.0.0.1:")) {
      Stop().IgnoreError();  // the error below says what went wrong
      return absl::InternalError(absl::StrCat("unexpected listening line: ", *line));
    }
    admin_address_ = std::move(admin);
    agent_address_ = std::move(agent);
    http_address_ = ListeningField(*line, "http");
    return absl::OkStatus();
  }
  // Output that ended before the deadline means fleetd is exiting: its pipe closes just before
  // it can be reaped.
  const std::optional<int> exited =
      process_->Wait(absl::Now() < deadline ? kKillTimeout : absl::ZeroDuration());
  if (!exited.has_value()) {
    process_->Signal(SIGKILL);
    process_->Wait(kKillTimeout);
  }
  // Piped, a last line without its newline; with a log file, what the wrapper shell said (it
  // cannot open the log, say).
  const std::string rest = process_->DrainStderr(absl::Seconds(1));
  process_.reset();
  if (exited.has_value()) {
    return absl::InternalError(absl::StrCat("fleetd exited at start (", DescribeWaitStatus(*exited),
                                            "): ", OutputTail(rest)));
  }
  return absl::DeadlineExceededError(absl::StrCat("fleetd did not serve within ",
                                                  absl::FormatDuration(options_.start_timeout),
                                                  "; killed it: ", OutputTail(rest)));
}

std::optional<std::string> FleetdProcess::NextLine(absl::Time deadline) {
  if (options_.log_path.empty()) return process_->ReadStderrLine(deadline - absl::Now());
  while (true) {
    if (const size_t end = partial_line_.find('\n'); end != std::string::npos) {
      std::string line = partial_line_.substr(0, end);
      partial_line_.erase(0, end + 1);
      return line;
    }
    // Whether it had exited before this read: then the read got everything it wrote.
    const bool exited = process_->Wait(absl::ZeroDuration()).has_value();
    const std::string more = ReadFrom(options_.log_path, log_read_);
    log_read_ += static_cast<int64_t>(more.size());
    partial_line_ += more;
    if (!more.empty()) continue;
    const absl::Time now = absl::Now();
    if (exited || now >= deadline) return std::nullopt;
    absl::SleepFor(std::min(kLogPoll, deadline - now));
  }
}

std::string FleetdProcess::OutputTail(const std::string& more) const {
  if (!options_.log_path.empty()) return Tail(ReadFrom(options_.log_path, log_start_) + more);
  return Tail(startup_log_ + more);
}

absl::Status FleetdProcess::Stop() {
  if (process_ == nullptr) return absl::OkStatus();
  const absl::Time deadline = absl::Now() + options_.stop_timeout;
  process_->Signal(SIGTERM);
  // A piped fleetd must be read while it shuts down, or a full pipe would keep it from exiting.
  std::string out, err;
  if (options_.log_path.empty()) process_->DrainBoth(options_.stop_timeout, out, err);
  std::optional<int> status =
      process_->Wait(std::max(deadline - absl::Now(), absl::ZeroDuration()));
  absl::Status result = absl::OkStatus();
  if (!status.has_value()) {
    process_->Signal(SIGKILL);
    process_->Wait(kKillTimeout);
    result = absl::DeadlineExceededError(absl::StrCat("fleetd did not stop within ",
                                                      absl::FormatDuration(options_.stop_timeout),
                                                      " of SIGTERM; killed it: ", OutputTail(err)));
  } else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    result = absl::InternalError(
        absl::StrCat("fleetd stopped with ", DescribeWaitStatus(*status), ": ", OutputTail(err)));
  }
  process_.reset();
  return result;
}

absl::Status FleetdProcess::Restart() {
  if (absl::Status stopped = Stop(); !stopped.ok()) return stopped;
  return Launch();
}

absl::StatusOr<int64_t> FleetdProcess::RssBytes() const {
  absl::StatusOr<std::string> rss = ProcField(pid(), "status", "VmRSS:");
  if (!rss.ok()) return rss.status();
  int64_t kb = 0;
  if (!absl::SimpleAtoi(absl::StripSuffix(*rss, " kB"), &kb)) {
    return absl::InternalError(absl::StrCat("unexpected VmRSS: ", *rss));
  }
  return kb * 1024;
}

absl::StatusOr<std::string> FleetdProcess::FdLimit() const {
  absl::StatusOr<std::string> line = ProcField(pid(), "limits", "Max open files");
  if (!line.ok()) return line.status();
  std::vector<std::string> fields = absl::StrSplit(*line, ' ', absl::SkipWhitespace());
  if (fields.size() < 2) return absl::InternalError(absl::StrCat("unexpected limits: ", *line));
  return absl::StrCat(fields[0], "/", fields[1]);
}

absl::StatusOr<double> FleetdProcess::CpuSeconds() const {
  absl::StatusOr<std::string> stat = ReadProc(pid(), "stat");
  if (!stat.ok()) return stat.status();
  // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so fields count from the
  // last ')'. After it, field 3 (the state) comes first; utime and stime are fields 14 and 15.
  const size_t comm_end = stat->rfind(')');
  if (comm_end == std::string::npos) {
    return absl::InternalError(absl::StrCat("unexpected /proc/", pid(), "/stat: ", *stat));
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(*stat).substr(comm_end + 1), ' ', absl::SkipWhitespace());
  constexpr size_t kUtime = 14 - 3;
  constexpr size_t kStime = 15 - 3;
  int64_t utime = 0;
  int64_t stime = 0;
  if (fields.size() <= kStime || !absl::SimpleAtoi(fields[kUtime], &utime) ||
      !absl::SimpleAtoi(fields[kStime], &stime)) {
    return absl::InternalError(absl::StrCat("unexpected /proc/", pid(), "/stat: ", *stat));
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace fleet::testing
