// How the admin side shows an agent: its record (what enrollment and operators set) merged with
// its live state (server/control/agent_state.h). An agent is online only while its state says so
// and its last heartbeat is recent, so state left behind by a crashed fleetd decays by itself.
#ifndef FLEETD_SERVER_MODEL_AGENT_STATUS_VIEW_H_
#define FLEETD_SERVER_MODEL_AGENT_STATUS_VIEW_H_

#include "absl/time/time.h"
#include "fleet/v1/admin.pb.h"
#include "server/model/records.pb.h"

namespace fleet::server {

// How long after its last heartbeat an agent still counts as online: three missed heartbeats,
// plus a second for the state to be flushed, plus `last_seen_lag`: how much older than its last
// heartbeat an agent's last-seen time may be in this fleetd's view (on a shared store, where a
// replica writes a heartbeat-only change at most once per write interval and learns the other
// replicas' agents from what they write: that interval plus a flush).
inline absl::Duration OfflineAfter(absl::Duration heartbeat_interval,
                                   absl::Duration last_seen_lag = absl::ZeroDuration()) {
  return 3 * heartbeat_interval + absl::Seconds(1) + last_seen_lag;
}

// Sets the live fields of `agent` from `state` (nullptr: never seen) as of `now`; online only if
// its last heartbeat is at most `offline_after` old; agent_version as its latest Hello said,
// when it said one.
void MergeAgentState(const record::AgentStatusRecord* state, absl::Time now,
                     absl::Duration offline_after, v1::Agent& agent);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_MODEL_AGENT_STATUS_VIEW_H_
