#include "server/admin/rollout_status.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/model/agent_status_view.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/store_layout.h"
#include "server/model/validation.h"
#include "storage/errors.h"

namespace fleet::server {
namespace {

constexpr absl::Duration kStopPollInterval = absl::Milliseconds(200);
constexpr absl::Duration kStateLookInterval = absl::Milliseconds(500);

// Whether `batch` may change the status of `policy`'s rollout.
bool Affects(const storage::WatchBatch& batch, const std::string& policy_key) {
  for (const storage::Event& event : batch.events) {
    const std::string& key = event.kv.key;
    if (key == policy_key || key.starts_with(layout::kAgents)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<v1::RolloutStatus> RolloutStatusService::Get(
    const v1::GetRolloutStatusRequest& request) {
  if (absl::Status s = ValidateName("policy", request.policy()); !s.ok()) return s;
  if (request.revision() < 0) {
    return absl::InvalidArgumentError("revision must not be negative (0 means the latest)");
  }
  absl::StatusOr<std::optional<StoredRecord<record::PolicyHead>>> head =
      ReadRecord<record::PolicyHead>(store_, layout::PolicyKey(request.policy()));
  if (!head.ok()) return head.status();
  if (!head->has_value()) {
    return absl::NotFoundError(absl::StrCat("policy \"", request.policy(), "\" not found"));
  }
  const int64_t latest = (*head)->record.latest_revision();
  const int64_t revision = request.revision() == 0 ? latest : request.revision();
  if (revision > latest) {
    return absl::NotFoundError(absl::StrCat("policy \"", request.policy(), "\" has no revision ",
                                            revision, " (latest is ", latest, ")"));
  }
  absl::StatusOr<std::vector<StoredRecord<record::AgentRecord>>> agents =
      ReadAllRecords<record::AgentRecord>(store_, layout::kAgents);
  if (!agents.ok()) return agents.status();
  absl::StatusOr<std::map<std::string, record::AgentStatusRecord>> states =
      ReadAllAgentStates(store_);
  if (!states.ok()) return states.status();
  const absl::Time now = clock_.Now();
  v1::RolloutStatus status;
  status.set_policy(request.policy());
  status.set_revision(revision);
  status.set_latest_revision(latest);
  for (auto& stored : *agents) {
    v1::Agent& agent = *stored.record.mutable_agent();
    if (agent.policy() != request.policy()) continue;
    auto state = states->find(agent.id());
    MergeAgentState(state == states->end() ? nullptr : &state->second, now, offline_after_, agent);
    status.set_agents(status.agents() + 1);
    if (agent.status() != v1::AGENT_STATUS_ONLINE) {
      status.set_offline(status.offline() + 1);
    } else if (agent.applied_revision() >= revision) {
      status.set_acked(status.acked() + 1);
    } else if (agent.nacked_revision() >= revision) {
      status.set_nacked(status.nacked() + 1);
    } else {
      status.set_pending(status.pending() + 1);
    }
  }
  status.set_complete(status.nacked() == 0 && status.pending() == 0);
  return status;
}

absl::Status RolloutStatusService::Watch(const v1::GetRolloutStatusRequest& request,
                                         const std::function<bool(const v1::RolloutStatus&)>& send,
                                         const std::function<bool()>& stop) {
  const std::string policy_key = layout::PolicyKey(request.policy());
  std::unique_ptr<storage::Watcher> watcher;
  v1::RolloutStatus last;
  bool changed = true;
  absl::Time next_look = clock_.Now() + kStateLookInterval;
  while (!stop()) {
    if (watcher == nullptr) {
      // Watch from before computing, so that no change after the computation is missed.
      absl::StatusOr<std::unique_ptr<storage::Watcher>> started =
          store_.Watch("", store_.CurrentRevision());
      if (!started.ok()) return started.status();
      watcher = *std::move(started);
      changed = true;
    }
    if (changed) {
      absl::StatusOr<v1::RolloutStatus> status = Get(request);
      if (!status.ok()) return status.status();
      if (!google::protobuf::util::MessageDifferencer::Equals(*status, last)) {
        last = *status;
        if (!send(last)) return absl::OkStatus();
      }
    }
    absl::StatusOr<storage::WatchBatch> batch = watcher->Next(kStopPollInterval);
    if (storage::IsCompacted(batch.status())) {
      watcher.reset();  // start over from the current state
      continue;
    }
    if (!batch.ok()) return batch.status();
    // Agents' acks and health live in unlogged state, which makes no watch events: look again
    // at least as often as the state is flushed.
    const absl::Time now = clock_.Now();
    changed = Affects(*batch, policy_key) || now >= next_look;
    if (changed) next_look = now + kStateLookInterval;
  }
  return absl::OkStatus();
}

}  // namespace fleet::server
