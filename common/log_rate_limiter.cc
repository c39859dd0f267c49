#include "common/log_rate_limiter.h"

namespace fleet {

std::optional<int64_t> LogRateLimiter::Admit() {
  const absl::Time now = clock_.Now();
  absl::MutexLock lock(&mu_);
  if (last_line_.has_value() && now - *last_line_ < interval_) {
    ++suppressed_;
    return std::nullopt;
  }
  last_line_ = now;
  const int64_t suppressed = suppressed_;
  suppressed_ = 0;
  return suppressed;
}

}  // namespace fleet
