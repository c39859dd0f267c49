// How long an agent waits before reconnecting (agent.proto, "Life of an agent", step 5): jittered
// exponential backoff, so that agents cut off together do not come back together.
#ifndef FLEETD_COMMON_BACKOFF_H_
#define FLEETD_COMMON_BACKOFF_H_

#include "absl/random/bit_gen_ref.h"
#include "absl/time/time.h"

namespace fleet {

struct BackoffOptions {
  // The base delay of the first attempt; must be positive.
  absl::Duration initial = absl::Milliseconds(500);
  // The cap on the base delay; the jittered delay can exceed it by up to `jitter` times.
  absl::Duration max = absl::Seconds(30);
  // How much the base delay grows per attempt; at least 1.
  double multiplier = 2.0;
  // Each delay is the base delay times a uniform random factor in [1 - jitter, 1 + jitter);
  // in [0, 1).
  double jitter = 0.5;
};

// Delays of attempt 1, 2, 3, ...: base(1) = initial, base(n+1) = min(base(n) * multiplier, max),
// delay(n) = base(n) * U[1 - jitter, 1 + jitter). With the defaults: 0.5 s doubling to 30 s, times
// a factor in [0.5, 1.5), as agent.proto suggests.
//
// Options out of range are brought into range rather than refused: a non-positive initial
// becomes 1 ms, a max below initial becomes initial, a multiplier below 1 becomes 1, and jitter is
// clamped to [0, 0.99].
//
// Thread-compatible. Randomness comes from the injected generator, so tests can fix it.
class Backoff {
 public:
  // `rng` is not owned and must outlive the Backoff.
  Backoff(const BackoffOptions& options, absl::BitGenRef rng);

  // The delay before the next attempt; each call moves on one attempt.
  absl::Duration Next();

  // Back to the first attempt; call it once a connection has proven healthy.
  void Reset() { base_ = options_.initial; }

  const BackoffOptions& options() const { return options_; }

 private:
  const BackoffOptions options_;
  absl::BitGenRef rng_;  // not owned
  absl::Duration base_;
};

}  // namespace fleet

#endif  // FLEETD_COMMON_BACKOFF_H_
