// What a Prometheus server does to fleetd: GET /metrics at a fixed interval, on a thread of its
// own, from construction until destruction.
#ifndef FLEETD_BENCH_SCALE_METRICS_SCRAPER_H_
#define FLEETD_BENCH_SCALE_METRICS_SCRAPER_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fleet::bench {

// Thread-safe.
class MetricsScraper {
 public:
  // Scrapes http://`http_address`/metrics (host:port) now and then every `interval`.
  MetricsScraper(std::string http_address, absl::Duration interval);
  // Stops the thread; a scrape under way ends first (each is bounded by a 5 s timeout).
  ~MetricsScraper();
  MetricsScraper(const MetricsScraper&) = delete;
  MetricsScraper& operator=(const MetricsScraper&) = delete;

  // Scrapes answered 200, and scrapes that failed or answered anything else.
  int64_t scrapes() const { return scrapes_.load(); }
  int64_t failures() const { return failures_.load(); }
  // The size of the last answered exposition, in bytes.
  int64_t last_bytes() const { return last_bytes_.load(); }

 private:
  void Run();

  const std::string http_address_;
  const absl::Duration interval_;
  std::atomic<int64_t> scrapes_{0};
  std::atomic<int64_t> failures_{0};
  std::atomic<int64_t> last_bytes_{0};
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace fleet::bench

#endif  // FLEETD_BENCH_SCALE_METRICS_SCRAPER_H_
