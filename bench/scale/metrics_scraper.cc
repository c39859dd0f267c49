#include "bench/scale/metrics_scraper.h"

#include <utility>

#include "httplib.h"

namespace fleet::bench {

MetricsScraper::MetricsScraper(std::string http_address, absl::Duration interval)
    : http_address_(std::move(http_address)), interval_(interval), thread_([this] { Run(); }) {}

MetricsScraper::~MetricsScraper() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void MetricsScraper::Run() {
  httplib::Client client("http://" + http_address_);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  while (true) {
    httplib::Result result = client.Get("/metrics");
    if (result && result->status == 200) {
      scrapes_.fetch_add(1);
      last_bytes_.store(static_cast<int64_t>(result->body.size()));
    } else {
      failures_.fetch_add(1);
    }
    absl::MutexLock lock(&mu_);
    const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping), interval_)) return;
  }
}

}  // namespace fleet::bench
