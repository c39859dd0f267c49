// The admin side of agents: listing, inspecting, unenrolling, reassigning and labelling the
// agents in the store, shown with their live state from memory (server/control/agent_state.h,
// merged as server/model/agent_status_view.h says). Agents themselves enroll and report through
// the agent API.
#ifndef FLEETD_SERVER_ADMIN_AGENT_REGISTRY_H_
#define FLEETD_SERVER_ADMIN_AGENT_REGISTRY_H_

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "server/control/agent_state.h"
#include "storage/store.h"

namespace fleet::server {

// Thread-safe.
class AgentRegistry {
 public:
  // `offline_after`: see OfflineAfter() in agent_status_view.h. `store`, `clock` and `state` are
  // not owned and outlive the registry.
  AgentRegistry(storage::Store& store, Clock& clock, AgentStateTracker& state,
                absl::Duration offline_after)
      : store_(store), clock_(clock), state_(state), offline_after_(offline_after) {}

  // Contracts as in admin.proto. NOT_FOUND for unknown agents and (Reassign) policies;
  // INVALID_ARGUMENT for bad selectors, labels, page sizes and tokens.
  absl::StatusOr<v1::ListAgentsResponse> List(const v1::ListAgentsRequest& request);
  absl::StatusOr<v1::Agent> Get(const v1::GetAgentRequest& request);
  absl::Status Unenroll(const v1::UnenrollAgentRequest& request);
  absl::StatusOr<v1::Agent> Reassign(const v1::ReassignAgentRequest& request);
  absl::StatusOr<v1::Agent> SetLabels(const v1::SetAgentLabelsRequest& request);

 private:
  // `agent` with its live state merged in.
  v1::Agent WithState(v1::Agent agent);

  storage::Store& store_;               // not owned
  Clock& clock_;                        // not owned
  AgentStateTracker& state_;            // not owned
  const absl::Duration offline_after_;  // see OfflineAfter()
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_AGENT_REGISTRY_H_
