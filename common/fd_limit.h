// The process's open-file limit. Every agent connection costs fleetd one descriptor (and the
// simulator one per connection), so both raise their soft limit to the hard limit at start and
// say what they run under.
#ifndef FLEETD_COMMON_FD_LIMIT_H_
#define FLEETD_COMMON_FD_LIMIT_H_

#include <cstdint>

#include "absl/status/statusor.h"

namespace fleet {

// RLIMIT_NOFILE; RLIM_INFINITY reads as UINT64_MAX.
struct FdLimit {
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// The limit in force now; an errno-coded error when it cannot be read.
[[nodiscard]] absl::StatusOr<FdLimit> CurrentFdLimit();

// Raises the soft limit to the hard limit (a no-op when they are equal) and returns the limit in
// force afterwards. An error names what failed; the old limit then still holds.
[[nodiscard]] absl::StatusOr<FdLimit> RaiseFdLimit();

}  // namespace fleet

#endif  // FLEETD_COMMON_FD_LIMIT_H_
