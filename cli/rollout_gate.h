// The decision `fleetctl rollout status --watch` makes on each RolloutStatus, apart from the
// watch, so that it can be tested on status values alone. A gate must not pass on what it has not
// seen: it passes only when every assigned agent acked (admin.proto, RolloutStatus), never on an
// empty or inconsistent count.
#ifndef FLEETD_CLI_ROLLOUT_GATE_H_
#define FLEETD_CLI_ROLLOUT_GATE_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "fleet/v1/admin.pb.h"

namespace fleet::cli {

struct GateOptions {
  // How many nacked agents the rollout may have and still pass; one more fails it.
  int64_t max_nacked = 0;
  // Leave offline agents that have not answered (pending_offline) out of the gate.
  bool ignore_offline = false;
};

enum class GateVerdict {
  kWaiting,  // agents still have to answer
  kPassed,   // every assigned agent acked (less up to max_nacked nacked, and the offline ones
             // left out by ignore_offline)
  kFailed,   // more than max_nacked agents nacked: passing is impossible now
};

struct GateDecision {
  GateVerdict verdict = GateVerdict::kWaiting;
  // With kPassed: how many pending_offline agents ignore_offline left out (0 without it).
  int64_t left_out = 0;
  // With kPassed when no agent is assigned: true (there is nothing to wait for, but the caller
  // should say so).
  bool no_agents = false;
};

// The verdict on `status`. Passing needs the four counts to add up to `agents`: a status that
// does not (from a fleetd older than pending_offline) is never passed, only waited on or failed.
GateDecision DecideRollout(const v1::RolloutStatus& status, const GateOptions& options);

// The progress line, e.g. "policy linux-servers rev 7: 98% acked (9,812/10,000), 3 nacked,
// 120 pending, 65 pending offline, 1m30s elapsed"; "no agent assigned" instead of the counts
// when there are none. The percentage is rounded down, so that 100% means every agent.
std::string RolloutProgress(const v1::RolloutStatus& status, absl::Duration elapsed);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_ROLLOUT_GATE_H_
