// One reading of fleetd's /metrics, parsed into its samples, so that a scenario can take the
// difference of two readings around a piece of work: how many store writes it caused, say.
#ifndef FLEETD_BENCH_SCALE_METRICS_SNAPSHOT_H_
#define FLEETD_BENCH_SCALE_METRICS_SNAPSHOT_H_

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace fleet::bench {

// Immutable once taken; thread-compatible.
class MetricsSnapshot {
 public:
  // GET http://`http_address`/metrics (host:port), bounded by a 5 s timeout. UNAVAILABLE when it
  // does not answer 200.
  [[nodiscard]] static absl::StatusOr<MetricsSnapshot> Take(const std::string& http_address);
  // Parses a Prometheus text exposition: every sample line "SERIES VALUE"; comments and lines
  // that do not parse are skipped.
  static MetricsSnapshot Parse(std::string_view text);

  // The value of one series, written as the exposition writes it: `name` alone, or
  // `name{label="value",...}` with its labels in the exposition's order; 0 when absent (a
  // counter that was never incremented is absent or 0 alike).
  double Value(std::string_view series) const;
  // The sum of every series of the metric `name`, whatever its labels.
  double Sum(std::string_view name) const;

 private:
  std::map<std::string, double, std::less<>> samples_;
};

}  // namespace fleet::bench

#endif  // FLEETD_BENCH_SCALE_METRICS_SNAPSHOT_H_
