// The admin side of agents: listing, inspecting, unenrolling, reassigning, labelling and asking
// for new credentials for (agent.proto, "Credential rotation") the agents in the store, shown with
// their live state from memory (server/control/agent_state.h, merged as
// server/model/agent_status_view.h says). Agents themselves enroll and report through the agent
// API.
#ifndef FLEETD_SERVER_ADMIN_AGENT_REGISTRY_H_
#define FLEETD_SERVER_ADMIN_AGENT_REGISTRY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "server/admin/agent_batch.h"
#include "server/control/agent_state.h"
#include "storage/store.h"

namespace fleet::server {

// Agents marked per transaction by RotateCredentials (agent_batch.h).
inline constexpr size_t kRotationBatch = kAgentBatch;
// At most this many ids in one RotateAgentCredentialsRequest.
inline constexpr int kMaxRotationIds = kMaxSelectedIds;

// Thread-safe.
class AgentRegistry {
 public:
  // `offline_after`: see OfflineAfter() in agent_status_view.h. `store`, `clock` and `state` are
  // not owned and outlive the registry.
  AgentRegistry(storage::Store& store, Clock& clock, AgentStateTracker& state,
                absl::Duration offline_after)
      : store_(store), clock_(clock), state_(state), offline_after_(offline_after) {}

  // Contracts as in admin.proto. NOT_FOUND for unknown agents and (Reassign) policies;
  // INVALID_ARGUMENT for bad selectors, labels, page sizes, tokens and rollout states.
  absl::StatusOr<v1::ListAgentsResponse> List(const v1::ListAgentsRequest& request);
  absl::StatusOr<v1::Agent> Get(const v1::GetAgentRequest& request);
  absl::Status Unenroll(const v1::UnenrollAgentRequest& request);
  absl::StatusOr<v1::Agent> Reassign(const v1::ReassignAgentRequest& request);
  absl::StatusOr<v1::Agent> SetLabels(const v1::SetAgentLabelsRequest& request);
  // Marks the agents for rotation, kRotationBatch per store transaction (each record compared
  // at its read revision; a batch that loses a race is read again, up to a few times, else
  // ABORTED). INVALID_ARGUMENT unless exactly one of ids, selector and all is given, or for a bad
  // id or selector; NOT_FOUND (nothing marked) for an unknown id.
  absl::StatusOr<v1::RotateAgentCredentialsResponse> RotateCredentials(
      const v1::RotateAgentCredentialsRequest& request);
  // The bulk forms (admin.proto), written as EditAgents (agent_batch.h) says. INVALID_ARGUMENT
  // unless exactly one of ids and a non-blank selector is given, or for a bad id, selector,
  // policy name or label; NOT_FOUND for an unknown id or (Reassign) policy; (Label)
  // FAILED_PRECONDITION, nothing changed, for a value that would change without overwrite.
  absl::StatusOr<v1::AgentChangesResponse> UnenrollMany(const v1::UnenrollAgentsRequest& request);
  absl::StatusOr<v1::AgentChangesResponse> ReassignMany(const v1::ReassignAgentsRequest& request);
  absl::StatusOr<v1::AgentChangesResponse> LabelMany(const v1::LabelAgentsRequest& request);

 private:
  // `agent` with its live state merged in.
  v1::Agent WithState(v1::Agent agent);
  // The agents `selection` names (SelectAgents), after checking that it names them one way.
  absl::StatusOr<std::vector<StoredRecord<record::AgentRecord>>> Select(
      const v1::AgentSelection& selection);
  // The response for `edited`, each agent with its live state.
  v1::AgentChangesResponse Changes(const std::vector<EditedAgent>& edited);
  // Drops the live state of an unenrolled agent.
  void ForgetState(const std::string& id);

  storage::Store& store_;               // not owned
  Clock& clock_;                        // not owned
  AgentStateTracker& state_;            // not owned
  const absl::Duration offline_after_;  // see OfflineAfter()
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_AGENT_REGISTRY_H_
