#include "common/backoff.h"

#include <algorithm>

#include "absl/random/distributions.h"

namespace fleet {
namespace {

BackoffOptions Normalized(BackoffOptions options) {
  if (options.initial <= absl::ZeroDuration()) options.initial = absl::Milliseconds(1);
  options.max = std::max(options.max, options.initial);
  // Written so that NaN fails the comparisons and is replaced too.
  if (!(options.multiplier >= 1.0)) options.multiplier = 1.0;
  if (!(options.jitter >= 0.0)) options.jitter = 0.0;
  options.jitter = std::min(options.jitter, 0.99);
  return options;
}

}  // namespace

Backoff::Backoff(const BackoffOptions& options, absl::BitGenRef rng)
    : options_(Normalized(options)), rng_(rng), base_(options_.initial) {}

absl::Duration Backoff::Next() {
  const absl::Duration base = base_;
  // Duration arithmetic saturates at infinity, so the multiplication cannot overflow.
  base_ = std::min(base_ * options_.multiplier, options_.max);
  if (options_.jitter == 0.0) return base;
  return base * absl::Uniform(rng_, 1.0 - options_.jitter, 1.0 + options_.jitter);
}

}  // namespace fleet
