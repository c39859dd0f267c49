// How an action is committed (store_layout.h): its head at /actions/ID (record::ActionRecord) and
// its target ids in chunks of kActionTargetsPerChunk at /action_targets/ID/CHUNK, all in one
// transaction, so that the ActionEngine (server/control/action_engine.h) sees them together.
#ifndef FLEETD_SERVER_MODEL_ACTION_RECORD_H_
#define FLEETD_SERVER_MODEL_ACTION_RECORD_H_

#include <string>
#include <vector>

#include "fleet/v1/admin.pb.h"
#include "storage/store.h"

namespace fleet::server {

// The puts of `action` (its counts and done dropped) for `agent_ids`, in the order given (the
// rollout's): the head first, then the chunks.
std::vector<storage::Op> ActionRecordOps(const v1::Action& action,
                                         const std::vector<std::string>& agent_ids);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_MODEL_ACTION_RECORD_H_
