#include "server/app/fd_budget.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <utility>

#include "absl/status/status.h"

namespace fleet::server {

absl::StatusOr<uint64_t> CountOpenDescriptors() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) {
    return absl::ErrnoToStatus(errno, "cannot list /proc/self/fd");
  }
  uint64_t entries = 0;
  errno = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++entries;
  }
  const int error_number = errno;
  closedir(dir);
  if (error_number != 0) return absl::ErrnoToStatus(error_number, "cannot list /proc/self/fd");
  // The listing saw the descriptor it was read through.
  return entries > 0 ? entries - 1 : 0;
}

FdBudget::FdBudget(FdBudgetOptions options, DescriptorCounter counter, Clock& clock)
    : options_(std::move(options)), counter_(std::move(counter)), clock_(clock) {}

uint64_t FdBudget::ScaledReserve(uint64_t limit, uint64_t wanted, double max_fraction) {
  const long double cap = std::floor(static_cast<long double>(limit) * max_fraction);
  return cap < static_cast<long double>(wanted) ? static_cast<uint64_t>(cap) : wanted;
}

void FdBudget::Recount(absl::Time now) {
  absl::StatusOr<uint64_t> count = counter_();
  count_cost_ = std::max(clock_.Now() - now, absl::ZeroDuration());
  if (count.ok()) {
    counted_ = *count;
  } else if (absl::IsResourceExhausted(count.status())) {
    counted_ = options_.limit;
  } else {
    counted_ = 0;  // the descriptor numbers alone will have to do
  }
  admitted_since_count_ = 0;
  counted_at_ = now;
}

uint64_t FdBudget::Estimate(int fd, bool counted_fd) const {
  const uint64_t counted = counted_ + admitted_since_count_ + (counted_fd ? 0 : 1);
  return std::max(counted, static_cast<uint64_t>(fd) + 1);
}

FdBudget::Decision FdBudget::Admit(int fd, uint64_t reserve, uint64_t set_aside) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_.Now();
  const uint64_t free_of_reserve = options_.limit > reserve ? options_.limit - reserve : 0;
  // The set-aside descriptors are somewhere in use; lifting the ceiling by them is the same as
  // not counting them, and keeps the descriptor-number floor of the estimate meaningful. Never
  // up to the limit itself: a process that is full stays full.
  const uint64_t lifted =
      set_aside > UINT64_MAX - free_of_reserve ? UINT64_MAX : free_of_reserve + set_aside;
  const uint64_t ceiling = std::min(lifted, options_.limit > 0 ? options_.limit - 1 : 0);
  // Whether the count was taken with `fd` already open, i.e. includes it.
  bool counted_fd = false;
  const absl::Duration slow_count = count_cost_ * options_.count_cost_factor;
  if (now - counted_at_ >= std::max(options_.max_count_age, slow_count)) {
    Recount(now);
    counted_fd = true;
  }
  uint64_t in_use = Estimate(fd, counted_fd);
  if (in_use > ceiling && !counted_fd &&
      now - counted_at_ >= std::max(options_.min_recount_interval, slow_count)) {
    Recount(now);
    counted_fd = true;
    in_use = Estimate(fd, counted_fd);
  }
  const bool admit = in_use <= ceiling;
  if (admit && !counted_fd) ++admitted_since_count_;
  return Decision{.admit = admit, .in_use = in_use > set_aside ? in_use - set_aside : 0};
}

}  // namespace fleet::server
