// How fleetctl judges an action from its counts (admin.proto Action, ActionCounts), apart from
// the commands, so that the exit codes of `action status [--watch]` and `action create --watch`
// can be tested on values alone. An action succeeds only when every target succeeded and the
// counts add up to the targets: never on an empty or inconsistent count.
#ifndef FLEETD_CLI_ACTION_OUTCOME_H_
#define FLEETD_CLI_ACTION_OUTCOME_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "fleet/v1/admin.pb.h"

namespace fleet::cli {

enum class ActionVerdict {
  kWaiting,       // some target is not in a final state yet
  kSucceeded,     // every target succeeded
  kUnsuccessful,  // every target is final and some failed, were rejected, expired or cancelled
};

ActionVerdict DecideAction(const v1::Action& action);

// Targets in a final state other than succeeded: failed + rejected + expired + cancelled.
int64_t Unsuccessful(const v1::ActionCounts& counts);

// The live line, e.g. "action 3f9c2a7b1e04 upgrade: 812/1,000 succeeded, 151 pending, 34
// running, 3 failed, 1m30s elapsed": succeeded of the targets, then each other state that has
// targets, in the order of ActionTargetState.
std::string ActionProgress(const v1::Action& action, absl::Duration elapsed);

// What a command that looked at `action` ends with (exit_codes.h):
//   OK                   every target succeeded; or, when !timed_out, none failed so far
//   FAILED_PRECONDITION  (exit 4) some target failed, was rejected, expired or was cancelled,
//                        also when timed_out: a known failure outranks an unfinished wait
//   DEADLINE_EXCEEDED    (exit 5) timed_out (the --timeout `timeout` passed) with targets still
//                        unfinished and none unsuccessful
// Messages name the action and its counts, and where to look next.
absl::Status ActionOutcome(const v1::Action& action, bool timed_out, const std::string& timeout);

// The word for the STATE column, as fleetd's ListActionsRequest.state judges it: "active" while
// some target is not final; once every target is: "cancelled" when CancelAction was called,
// "expired" when some target expired, else "done".
std::string ActionStateOf(const v1::Action& action);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_ACTION_OUTCOME_H_
