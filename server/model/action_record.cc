#include "server/model/action_record.h"

#include <algorithm>

#include "server/model/records.pb.h"
#include "server/model/store_layout.h"

namespace fleet::server {

std::vector<storage::Op> ActionRecordOps(const v1::Action& action,
                                         const std::vector<std::string>& agent_ids) {
  const size_t per_chunk = layout::kActionTargetsPerChunk;
  const int chunks = static_cast<int>((agent_ids.size() + per_chunk - 1) / per_chunk);
  record::ActionRecord head;
  *head.mutable_action() = action;
  head.mutable_action()->clear_counts();
  head.mutable_action()->clear_done();
  head.set_target_chunks(chunks);
  head.set_target_count(static_cast<int64_t>(agent_ids.size()));
  std::vector<storage::Op> ops;
  ops.reserve(1 + chunks);
  ops.push_back(storage::Op::Put(layout::ActionKey(action.id()), head.SerializeAsString()));
  for (int chunk = 0; chunk < chunks; ++chunk) {
    record::ActionTargetChunk targets;
    const size_t begin = chunk * per_chunk;
    const size_t end = std::min(agent_ids.size(), begin + per_chunk);
    for (size_t i = begin; i < end; ++i) targets.add_agent_ids(agent_ids[i]);
    ops.push_back(
        storage::Op::Put(layout::ActionTargetKey(action.id(), chunk), targets.SerializeAsString()));
  }
  return ops;
}

}  // namespace fleet::server
