// Admission of new connections against the open-file limit. Each connection fleetd accepts holds
// a descriptor until it ends; the store (RocksDB keeps up to 512 table files open), gRPC's own
// machinery and the admin API need descriptors too, and a process that runs out of them fails in
// every part at once. So connections are admitted only while a reserve of the limit stays free.
#ifndef FLEETD_SERVER_APP_FD_BUDGET_H_
#define FLEETD_SERVER_APP_FD_BUDGET_H_

#include <cstdint>
#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace fleet::server {

// The number of descriptors this process has open, from /proc/self/fd (not counting the one used
// to read it). RESOURCE_EXHAUSTED when no descriptor is left to read it with; another errno-coded
// error (e.g. NOT_FOUND without procfs) when it cannot be read otherwise.
[[nodiscard]] absl::StatusOr<uint64_t> CountOpenDescriptors();

// Counts the descriptors open now; CountOpenDescriptors in production.
using DescriptorCounter = std::function<absl::StatusOr<uint64_t>()>;

struct FdBudgetOptions {
  // The soft open-file limit (RLIMIT_NOFILE); UINT64_MAX for none.
  uint64_t limit = 0;
  // The count is taken again when it is older than this, whatever the estimate says, so that
  // descriptors others opened or closed in the meantime are seen.
  absl::Duration max_count_age = absl::Milliseconds(100);
  // ... and when the estimate says a connection would eat into the reserve, but not more often
  // than this, so that a flood of connections at the limit does not turn into a flood of
  // directory listings.
  absl::Duration min_recount_interval = absl::Milliseconds(10);
  // Both intervals are stretched to this many times what the last count took (listing 20,000
  // descriptors takes some 7 ms), so that counting takes a bounded share of the time.
  int count_cost_factor = 10;
};

// Decides, connection by connection, whether one more descriptor may go to a connection.
// Listing /proc/self/fd costs time in proportion to the descriptors open, so it is done at most
// every `min_recount_interval` (and at least every `max_count_age` while connections arrive; both
// stretched when listing is slow). In between, the estimate is the last count plus every
// connection admitted since, with closes ignored until the next count, and never below the
// number of the newest descriptor plus one (the kernel hands out the lowest free number, so all
// below it are in use). The estimate errs towards refusing.
// Thread-safe: the agent and admin acceptors share one budget.
class FdBudget {
 public:
  // `clock` is not owned and must outlive the budget.
  FdBudget(FdBudgetOptions options, DescriptorCounter counter, Clock& clock);

  FdBudget(const FdBudget&) = delete;
  FdBudget& operator=(const FdBudget&) = delete;

  struct Decision {
    bool admit = false;
    // The descriptors in use as estimated for the decision, the new connection's included and
    // the set-aside ones not.
    uint64_t in_use = 0;
  };

  // For a connection just accepted on descriptor `fd` (still open, so in use): admits it when,
  // with it, at least `reserve` descriptors of the limit stay free, not counting `set_aside`
  // descriptors in use that have a budget of their own which `reserve` already leaves room for
  // (another listener's connections). An admitted connection counts as in use until the next
  // count; a refused one must be closed by the caller. When the count fails for want of
  // descriptors, the process counts as full; when it fails otherwise (no procfs), only the
  // descriptor numbers are used.
  Decision Admit(int fd, uint64_t reserve, uint64_t set_aside = 0);

  uint64_t limit() const { return options_.limit; }

  // `wanted`, but at most `max_fraction` of `limit`, so that a small limit still leaves room for
  // connections. E.g. ScaledReserve(300, 672, 0.5) == 150.
  static uint64_t ScaledReserve(uint64_t limit, uint64_t wanted, double max_fraction);

 private:
  // Takes a new count as of `now` and forgets the connections admitted before it.
  void Recount(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The descriptors in use with `fd`, which the last count saw when `counted_fd`.
  uint64_t Estimate(int fd, bool counted_fd) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const FdBudgetOptions options_;
  const DescriptorCounter counter_;
  Clock& clock_;  // not owned

  mutable absl::Mutex mu_;
  // Descriptors in use at counted_at_, and connections admitted since.
  uint64_t counted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t admitted_since_count_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time counted_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Duration count_cost_ ABSL_GUARDED_BY(mu_);  // what the last count took
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_FD_BUDGET_H_
