// fleetctl's documented exit codes, stable for scripts. Usage errors (2) come from flag parsing;
// the others from the outcome of the command's RPCs.
#ifndef FLEETD_CLI_EXIT_CODES_H_
#define FLEETD_CLI_EXIT_CODES_H_

#include "absl/status/status.h"

namespace fleet::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,    // any failure without a more specific code, e.g. fleetd unreachable
  kExitUsage = 2,    // bad flags or arguments
  kExitTimeout = 5,  // fleetd did not answer in time (DEADLINE_EXCEEDED)
  kExitDenied = 6,   // UNAUTHENTICATED or PERMISSION_DENIED
};

// The exit code for a command that ended with `status`.
inline ExitCode ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kDeadlineExceeded:
      return kExitTimeout;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitDenied;
    default:
      return kExitError;
  }
}

}  // namespace fleet::cli

#endif  // FLEETD_CLI_EXIT_CODES_H_
