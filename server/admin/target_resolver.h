// Which agents an action or a live query is for (admin.proto Targets): every enrolled agent that
// matches all the criteria given, as of the store's revision when the request comes, so that an
// action keeps the list it was created with. Agents named by id are read from the store; a
// selector or a policy alone is matched against the agent directory (in memory) once it has seen
// that revision, so that picking from 100,000 agents reads and parses no record.
#ifndef FLEETD_SERVER_ADMIN_TARGET_RESOLVER_H_
#define FLEETD_SERVER_ADMIN_TARGET_RESOLVER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fleet/v1/admin.pb.h"
#include "server/control/agent_directory.h"
#include "storage/store.h"

namespace fleet::server {

struct ResolvedTarget {
  std::string agent_id;
  std::string hostname;
};

// The agents `targets` names, in id order, deduplicated. INVALID_ARGUMENT naming the field
// ("targets.agent_ids", "targets.selector", "targets.policy") for a malformed criterion,
// "targets" when none is given or when no agent matches them all; NOT_FOUND for an id of no
// enrolled agent or a policy that does not exist; UNAVAILABLE when the directory is behind the
// store. Errors of the store otherwise. Thread-safe.
absl::StatusOr<std::vector<ResolvedTarget>> ResolveTargets(storage::Store& store,
                                                           AgentDirectory& directory,
                                                           const v1::Targets& targets);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_TARGET_RESOLVER_H_
