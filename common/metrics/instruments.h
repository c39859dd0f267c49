// The two scalar instruments of a metrics Registry (registry.h): a Counter only goes up, a Gauge
// goes anywhere. Both are one relaxed atomic, so that recording on a hot path costs an atomic
// add and no lock: resolve the instrument once (Registry, Family::WithLabels) and keep the
// reference. Relaxed is enough: a scrape reads each value on its own, and nothing is ordered by
// it.
#ifndef FLEETD_COMMON_METRICS_INSTRUMENTS_H_
#define FLEETD_COMMON_METRICS_INSTRUMENTS_H_

#include <atomic>
#include <cstdint>

namespace fleet::metrics {

// Thread-safe.
class Counter {
 public:
  void Increment(uint64_t by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// Thread-safe.
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

}  // namespace fleet::metrics

#endif  // FLEETD_COMMON_METRICS_INSTRUMENTS_H_
