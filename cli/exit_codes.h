// fleetctl's documented exit codes, stable for scripts. Usage errors (2) come from flag parsing;
// the others from the outcome of the command, mostly the gRPC code of a failed RPC.
#ifndef FLEETD_CLI_EXIT_CODES_H_
#define FLEETD_CLI_EXIT_CODES_H_

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace fleet::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,     // any failure without a more specific code, e.g. fleetd unreachable
  kExitUsage = 2,     // bad flags or arguments
  kExitNotFound = 3,  // the named thing does not exist (NOT_FOUND)
  kExitConflict = 4,  // ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED; a rollout more than
                      // --max-nacked agents nacked; an apply whose status.revision is stale; an
                      // action some target of which did not succeed; a query some agent answered
                      // with an error
  kExitTimeout = 5,   // fleetd did not answer in time, or a --timeout passed (DEADLINE_EXCEEDED):
                      // also an action watch or a query with targets still unfinished
  kExitDenied = 6,    // UNAUTHENTICATED or PERMISSION_DENIED, or no token configured
  // fleetctl diff only, as kubectl diff: 1 means "there are differences", and an error that
  // would exit 1 elsewhere exits 7 there.
  kExitDiffers = 1,
  kExitDiffFailed = 7,
};

// The table printed in `fleetctl --help`, one code a line.
inline constexpr char kExitCodeHelp[] =
    "Exit codes:\n"
    "  0  success\n"
    "  1  error (e.g. fleetd unreachable, a bad file)\n"
    "  2  usage error (unknown command or flag, bad flag value or selector, unknown context)\n"
    "  3  not found (a policy, agent, token or action fleetd does not have)\n"
    "  4  conflict or failed precondition (exists already, stale revision: the policy changed\n"
    "     since the file's status.revision, agents assigned; a rollout that more than\n"
    "     --max-nacked agents rejected; an action some target of which failed, was rejected,\n"
    "     expired or was cancelled; a query some agent answered with an error)\n"
    "  5  timeout (including rollout status --watch --timeout before every agent acked, action\n"
    "     status --watch --timeout before every target finished, a query's --timeout with\n"
    "     online agents still pending)\n"
    "  6  not authenticated (no, unknown or revoked token) or not allowed (role too low)\n"
    "fleetctl diff: 0 no differences, 1 differences, 7 instead of 1 for an error.\n";

// The payload that marks a status as a usage error, whatever its code.
inline constexpr char kUsageErrorPayload[] = "fleetctl/usage-error";

// INVALID_ARGUMENT with `message`, marked as a usage error (exit 2): a bad flag or argument, an
// address without a port, a context the config does not have.
inline absl::Status UsageError(absl::string_view message) {
  absl::Status status = absl::InvalidArgumentError(message);
  status.SetPayload(kUsageErrorPayload, absl::Cord("1"));
  return status;
}

inline bool IsUsageError(const absl::Status& status) {
  return status.GetPayload(kUsageErrorPayload).has_value();
}

// The exit code for a command that ended with `status`: kExitUsage for a UsageError, else by
// its code.
inline ExitCode ExitCodeFor(const absl::Status& status) {
  if (IsUsageError(status)) return kExitUsage;
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
      // Unmarked: a bad file or a check of fleetctl's own; fleetd's answers to flags and
      // arguments come marked (admin_client.h).
      return kExitError;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return kExitConflict;
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
