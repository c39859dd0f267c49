// The admin side of agents: listing, inspecting, unenrolling, reassigning and labelling the
// agents in the store. Agents themselves enroll and report through the agent API.
#ifndef FLEETD_SERVER_AGENT_REGISTRY_H_
#define FLEETD_SERVER_AGENT_REGISTRY_H_

#include "absl/status/statusor.h"
#include "fleet/v1/admin.pb.h"
#include "storage/store.h"

namespace fleet::server {

// Thread-safe.
class AgentRegistry {
 public:
  explicit AgentRegistry(storage::Store& store) : store_(store) {}  // store not owned

  // Contracts as in admin.proto. NOT_FOUND for unknown agents and (Reassign) policies;
  // INVALID_ARGUMENT for bad selectors, labels, page sizes and tokens.
  absl::StatusOr<v1::ListAgentsResponse> List(const v1::ListAgentsRequest& request);
  absl::StatusOr<v1::Agent> Get(const v1::GetAgentRequest& request);
  absl::Status Unenroll(const v1::UnenrollAgentRequest& request);
  absl::StatusOr<v1::Agent> Reassign(const v1::ReassignAgentRequest& request);
  absl::StatusOr<v1::Agent> SetLabels(const v1::SetAgentLabelsRequest& request);

 private:
  storage::Store& store_;  // not owned
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_REGISTRY_H_
