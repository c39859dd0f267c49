#include "server/agent_status_view.h"

#include <utility>
#include <vector>

#include "google/protobuf/util/time_util.h"
#include "server/record_io.h"
#include "server/store_layout.h"

namespace fleet::server {

void MergeAgentState(const record::AgentStatusRecord* state, absl::Time now,
                     absl::Duration offline_after, v1::Agent& agent) {
  agent.set_status(v1::AGENT_STATUS_OFFLINE);
  if (state == nullptr) return;
  const absl::Time last_seen = absl::FromUnixMicros(state->last_seen_unix_micros());
  *agent.mutable_last_seen() =
      google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(state->last_seen_unix_micros());
  if (state->status() == v1::AGENT_STATUS_ONLINE && now - last_seen <= offline_after) {
    agent.set_status(v1::AGENT_STATUS_ONLINE);
  }
  agent.set_health(state->health());
  agent.set_health_message(state->health_message());
  // Revisions count only for the policy the agent is on now (a reassignment starts over).
  if (state->policy() == agent.policy()) {
    agent.set_applied_revision(state->applied_revision());
    agent.set_nacked_revision(state->nacked_revision());
    agent.set_nack_reason(state->nack_reason());
  }
}

absl::StatusOr<std::map<std::string, record::AgentStatusRecord>> ReadAllAgentStates(
    storage::Store& store) {
  absl::StatusOr<std::vector<StoredRecord<record::AgentStatusRecord>>> records =
      ReadAllRecords<record::AgentStatusRecord>(store, layout::kAgentStatus);
  if (!records.ok()) return records.status();
  std::map<std::string, record::AgentStatusRecord> states;
  for (auto& stored : *records) {
    states[stored.key.substr(sizeof(layout::kAgentStatus) - 1)] = std::move(stored.record);
  }
  return states;
}

absl::StatusOr<std::optional<record::AgentStatusRecord>> ReadAgentState(storage::Store& store,
                                                                        const std::string& id) {
  absl::StatusOr<std::optional<StoredRecord<record::AgentStatusRecord>>> stored =
      ReadRecord<record::AgentStatusRecord>(store, layout::AgentStatusKey(id));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::nullopt;
  return std::move((*stored)->record);
}

}  // namespace fleet::server
