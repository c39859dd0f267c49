#include "cli/rollout_gate.h"

#include "absl/strings/str_cat.h"
#include "cli/resource_tables.h"

namespace fleet::cli {

GateDecision DecideRollout(const v1::RolloutStatus& status, const GateOptions& options) {
  GateDecision decision;
  if (status.nacked() > options.max_nacked) {
    decision.verdict = GateVerdict::kFailed;
    return decision;
  }
  const bool consistent =
      status.acked() + status.nacked() + status.pending() + status.pending_offline() ==
      status.agents();
  if (!consistent || status.agents() < 0) return decision;
  if (status.agents() == 0) {
    decision.verdict = GateVerdict::kPassed;
    decision.no_agents = true;
    return decision;
  }
  if (status.pending() > 0) return decision;
  if (status.pending_offline() > 0 && !options.ignore_offline) return decision;
  decision.verdict = GateVerdict::kPassed;
  decision.left_out = options.ignore_offline ? status.pending_offline() : 0;
  return decision;
}

std::string RolloutProgress(const v1::RolloutStatus& status, absl::Duration elapsed) {
  std::string text = absl::StrCat("policy ", status.policy(), " rev ", status.revision(), ": ");
  if (status.agents() <= 0) {
    absl::StrAppend(&text, "no agent assigned");
  } else {
    absl::StrAppend(&text, status.acked() * 100 / status.agents(), "% acked (",
                    WithThousands(status.acked()), "/", WithThousands(status.agents()), "), ",
                    WithThousands(status.nacked()), " nacked, ", WithThousands(status.pending()),
                    " pending, ", WithThousands(status.pending_offline()), " pending offline");
  }
  absl::StrAppend(&text, ", ", absl::FormatDuration(absl::Trunc(elapsed, absl::Seconds(1))),
                  " elapsed");
  return text;
}

}  // namespace fleet::cli
