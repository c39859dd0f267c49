// The standard process_* metrics of Prometheus's clients, read from /proc at each scrape:
// process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds and process_start_time_seconds.
#ifndef FLEETD_COMMON_METRICS_PROCESS_METRICS_H_
#define FLEETD_COMMON_METRICS_PROCESS_METRICS_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/metrics/registry.h"

namespace fleet::metrics {

// The fields of /proc/PID/stat the metrics need, in the kernel's units.
struct ProcStat {
  uint64_t utime_ticks = 0;
  uint64_t stime_ticks = 0;
  uint64_t start_ticks = 0;  // after boot
  uint64_t vsize_bytes = 0;
  uint64_t rss_pages = 0;
};

// Parses the text of /proc/PID/stat (proc(5)): the command in parentheses may hold spaces and
// parentheses, so fields are counted from the last ')'. INVALID_ARGUMENT when fields are missing
// or not numbers.
absl::StatusOr<ProcStat> ParseProcStat(std::string_view text);

// Registers the process_* metrics of this process on `registry`. A file that cannot be read
// leaves its metrics out of that scrape.
void AddProcessMetrics(Registry& registry);

}  // namespace fleet::metrics

#endif  // FLEETD_COMMON_METRICS_PROCESS_METRICS_H_
