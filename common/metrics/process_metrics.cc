#include "common/metrics/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace fleet::metrics {
namespace {

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<ProcStat> ReadOwnStat() {
  std::optional<std::string> text = ReadFile("/proc/self/stat");
  if (!text.has_value()) return std::nullopt;
  absl::StatusOr<ProcStat> stat = ParseProcStat(*text);
  if (!stat.ok()) return std::nullopt;
  return *stat;
}

// The system's boot time, in seconds since the epoch: /proc/stat's btime.
std::optional<uint64_t> BootTime() {
  std::optional<std::string> text = ReadFile("/proc/stat");
  if (!text.has_value()) return std::nullopt;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    uint64_t btime = 0;
    if (absl::ConsumePrefix(&line, "btime ") &&
        absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &btime)) {
      return btime;
    }
  }
  return std::nullopt;
}

double TicksPerSecond() { return static_cast<double>(sysconf(_SC_CLK_TCK)); }

std::vector<Sample> One(std::optional<double> value) {
  if (!value.has_value()) return {};
  return {Sample{.value = *value}};
}

}  // namespace

absl::StatusOr<ProcStat> ParseProcStat(std::string_view text) {
  const size_t command_end = text.rfind(')');
  if (command_end == std::string_view::npos) {
    return absl::InvalidArgumentError("no command in parentheses");
  }
  // Fields from the third on (state); utime is field 14.
  const std::string_view rest = text.substr(command_end + 1);
  const std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(rest.data(), rest.size()), ' ', absl::SkipEmpty());
  constexpr size_t kUtime = 14 - 3, kStime = 15 - 3, kStart = 22 - 3, kVsize = 23 - 3,
                   kRss = 24 - 3;
  if (fields.size() <= kRss) return absl::InvalidArgumentError("too few fields");
  ProcStat stat;
  if (!absl::SimpleAtoi(fields[kUtime], &stat.utime_ticks) ||
      !absl::SimpleAtoi(fields[kStime], &stat.stime_ticks) ||
      !absl::SimpleAtoi(fields[kStart], &stat.start_ticks) ||
      !absl::SimpleAtoi(fields[kVsize], &stat.vsize_bytes) ||
      !absl::SimpleAtoi(fields[kRss], &stat.rss_pages)) {
    return absl::InvalidArgumentError("a field is not a number");
  }
  return stat;
}

void AddProcessMetrics(Registry& registry) {
  registry.AddCallback(
      "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
      MetricType::kCounter, {}, [] {
        std::optional<ProcStat> stat = ReadOwnStat();
        if (!stat.has_value()) return One(std::nullopt);
        return One(static_cast<double>(stat->utime_ticks + stat->stime_ticks) / TicksPerSecond());
      });
  registry.AddCallback("process_resident_memory_bytes", "Resident memory size in bytes.",
                       MetricType::kGauge, {}, [] {
                         std::optional<ProcStat> stat = ReadOwnStat();
                         if (!stat.has_value()) return One(std::nullopt);
                         return One(static_cast<double>(stat->rss_pages) *
                                    static_cast<double>(sysconf(_SC_PAGESIZE)));
                       });
  registry.AddCallback("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                       MetricType::kGauge, {}, [] {
                         std::optional<ProcStat> stat = ReadOwnStat();
                         if (!stat.has_value()) return One(std::nullopt);
                         return One(static_cast<double>(stat->vsize_bytes));
                       });
  registry.AddCallback("process_start_time_seconds",
                       "Start time of the process since unix epoch in seconds.", MetricType::kGauge,
                       {}, [] {
                         std::optional<ProcStat> stat = ReadOwnStat();
                         std::optional<uint64_t> boot = BootTime();
                         if (!stat.has_value() || !boot.has_value()) return One(std::nullopt);
                         return One(static_cast<double>(*boot) +
                                    static_cast<double>(stat->start_ticks) / TicksPerSecond());
                       });
  registry.AddCallback("process_open_fds", "Number of open file descriptors.", MetricType::kGauge,
                       {}, [] {
                         std::error_code error;
                         double open = 0;
                         for (std::filesystem::directory_iterator it("/proc/self/fd", error), end;
                              !error && it != end; it.increment(error)) {
                           ++open;
                         }
                         // The iterator's own descriptor is not the process's.
                         return One(error ? std::nullopt : std::optional<double>(open - 1));
                       });
  registry.AddCallback(
      "process_max_fds", "Maximum number of open file descriptors.", MetricType::kGauge, {}, [] {
        rlimit limit{};
        if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return One(std::nullopt);
        return One(limit.rlim_cur == RLIM_INFINITY ? std::numeric_limits<double>::infinity()
                                                   : static_cast<double>(limit.rlim_cur));
      });
}

}  // namespace fleet::metrics
