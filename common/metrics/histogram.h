// A Prometheus histogram: observations counted into buckets by upper bound (cumulative when
// read, as the text format wants), with their sum and count. Observe is lock-free: a binary
// search over the bounds and relaxed atomic adds.
#ifndef FLEETD_COMMON_METRICS_HISTOGRAM_H_
#define FLEETD_COMMON_METRICS_HISTOGRAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace fleet::metrics {

// Upper bounds from 5 ms to 10 s, Prometheus's client default: request and transaction latency.
std::vector<double> DefaultLatencyBuckets();
// `count` bounds: start, start * factor, start * factor^2, ... `start` > 0, `factor` > 1.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// Thread-safe.
class Histogram {
 public:
  // The buckets' upper bounds; sorted and deduplicated here, and the ones that are not finite
  // dropped (the +Inf bucket is always there).
  explicit Histogram(std::vector<double> bounds);

  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Counts `value` in the first bucket whose bound is >= value (le semantics).
  void Observe(double value);

  // What a scrape reads. `cumulative[i]` counts the observations <= bounds()[i]; the last entry,
  // one past the bounds, is the +Inf bucket and equals `count`. Buckets are read one by one, so
  // an observation racing the read may be in `sum` and not yet in the buckets, or the reverse.
  struct Snapshot {
    std::vector<uint64_t> cumulative;
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot Read() const;

  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  // One per bound, then the +Inf bucket; not cumulative.
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

}  // namespace fleet::metrics

#endif  // FLEETD_COMMON_METRICS_HISTOGRAM_H_
