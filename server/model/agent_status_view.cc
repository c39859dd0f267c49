#include "server/model/agent_status_view.h"

#include <string>

#include "common/utf8.h"
#include "google/protobuf/util/time_util.h"

namespace fleet::server {
namespace {

// What an agent reported, as valid UTF-8 whatever it sent: a view that carried ill-formed UTF-8
// would fail to serialize for every client that asks.
std::string Showable(const std::string& text) {
  return IsValidUtf8(text) ? text : SanitizeUtf8(text, text.size() * 3);
}

}  // namespace

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
  agent.set_health_message(Showable(state->health_message()));
  // What the agent runs now, when it said so (after an upgrade).
  if (!state->agent_version().empty()) {
    agent.set_agent_version(Showable(state->agent_version()));
  }
  // Revisions count only for the policy the agent is on now (a reassignment starts over).
  if (state->policy() == agent.policy()) {
    agent.set_applied_revision(state->applied_revision());
    agent.set_nacked_revision(state->nacked_revision());
    agent.set_nack_reason(Showable(state->nack_reason()));
  }
}

}  // namespace fleet::server
