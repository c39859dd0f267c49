// Keeps a repeated log line from flooding the log: at most one line per interval, the next one
// saying how many were held back meanwhile. For lines a client can cause at will, such as
// authentication failures.
#ifndef FLEETD_COMMON_LOG_RATE_LIMITER_H_
#define FLEETD_COMMON_LOG_RATE_LIMITER_H_

#include <cstdint>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace fleet {

// Thread-safe.
class LogRateLimiter {
 public:
  // `clock` is not owned and outlives the limiter.
  LogRateLimiter(Clock& clock, absl::Duration interval) : clock_(clock), interval_(interval) {}

  // Called once per event. When a line may be written for it (the first event, and then the
  // first once `interval` has passed since the last line), returns how many events were
  // suppressed since that last line; otherwise counts this one as suppressed and returns
  // nullopt.
  std::optional<int64_t> Admit();

 private:
  Clock& clock_;  // not owned
  const absl::Duration interval_;
  absl::Mutex mu_;
  std::optional<absl::Time> last_line_ ABSL_GUARDED_BY(mu_);
  int64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fleet

#endif  // FLEETD_COMMON_LOG_RATE_LIMITER_H_
