#include "common/fd_limit.h"

#include <sys/resource.h>

#include <cerrno>

#include "absl/status/status.h"

namespace fleet {
namespace {

uint64_t FromRlim(rlim_t value) { return value == RLIM_INFINITY ? UINT64_MAX : value; }

}  // namespace

absl::StatusOr<FdLimit> CurrentFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::ErrnoToStatus(errno, "cannot read the open-file limit (getrlimit)");
  }
  return FdLimit{.soft = FromRlim(limit.rlim_cur), .hard = FromRlim(limit.rlim_max)};
}

absl::StatusOr<FdLimit> RaiseFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::ErrnoToStatus(errno, "cannot read the open-file limit (getrlimit)");
  }
  if (limit.rlim_cur != limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      return absl::ErrnoToStatus(errno, "cannot raise the open-file limit to the hard limit");
    }
  }
  return CurrentFdLimit();
}

}  // namespace fleet
