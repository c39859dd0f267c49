#include "server/admin/agent_registry.h"

#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "server/model/agent_credentials.h"
#include "server/model/agent_status_view.h"
#include "server/model/label_selector.h"
#include "server/model/page_token.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/store_layout.h"
#include "server/model/validation.h"

namespace fleet::server {
namespace {

std::string AgentName(const std::string& id) { return absl::StrCat("agent ", id); }

absl::Status ValidateAgentId(const std::string& id) { return ValidateId("id", id); }

// Assigns the agent to `policy`; whether that changed it.
bool MoveToPolicy(record::AgentRecord& record, const std::string& policy) {
  v1::Agent& agent = *record.mutable_agent();
  if (agent.policy() == policy) return false;
  agent.set_policy(policy);
  // Revisions are per policy: what the agent applied of the old one means nothing here.
  agent.set_applied_revision(0);
  agent.set_nacked_revision(0);
  agent.clear_nack_reason();
  return true;
}

// Labels to set and keys to remove, as SetAgentLabelsRequest and LabelAgentsRequest have them.
absl::Status CheckLabelChange(const google::protobuf::Map<std::string, std::string>& set,
                              const google::protobuf::RepeatedPtrField<std::string>& remove) {
  for (const auto& [key, value] : set) {
    if (absl::Status s = ValidateLabelKey("label key", key); !s.ok()) return s;
    if (absl::Status s = ValidateLabelValue("label value", value); !s.ok()) return s;
  }
  for (const std::string& key : remove) {
    if (absl::Status s = ValidateLabelKey("label key", key); !s.ok()) return s;
    if (set.contains(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("label \"", key, "\" is both set and removed"));
    }
  }
  return absl::OkStatus();
}

// How far `agent` got with `latest`, its policy's latest revision.
v1::AgentRollout RolloutOf(const v1::Agent& agent, int64_t latest) {
  if (agent.applied_revision() >= latest) return v1::AGENT_ROLLOUT_ACKED;
  if (agent.nacked_revision() >= latest) return v1::AGENT_ROLLOUT_NACKED;
  return v1::AGENT_ROLLOUT_PENDING;
}

}  // namespace

absl::StatusOr<v1::ListAgentsResponse> AgentRegistry::List(const v1::ListAgentsRequest& request) {
  absl::StatusOr<int32_t> page_size = EffectivePageSize(request.page_size());
  if (!page_size.ok()) return page_size.status();
  absl::StatusOr<LabelSelector> selector = LabelSelector::Parse(request.selector());
  if (!selector.ok()) return selector.status();
  if (!request.policy().empty()) {
    if (absl::Status s = ValidateName("policy", request.policy()); !s.ok()) return s;
  }
  if (!v1::AgentRollout_IsValid(request.rollout())) {
    return absl::InvalidArgumentError(absl::StrCat("rollout ", request.rollout(), " is unknown"));
  }
  absl::StatusOr<std::string> continuation = DecodePageToken(request.page_token(), layout::kAgents);
  if (!continuation.ok()) return continuation.status();
  // The latest revision of each policy met, read once per call (0 for a policy gone meanwhile).
  absl::flat_hash_map<std::string, int64_t> latest;
  const auto latest_of = [&](const std::string& policy) -> absl::StatusOr<int64_t> {
    if (auto it = latest.find(policy); it != latest.end()) return it->second;
    absl::StatusOr<std::optional<StoredRecord<record::PolicyHead>>> head =
        ReadRecord<record::PolicyHead>(store_, layout::PolicyKey(policy));
    if (!head.ok()) return head.status();
    const int64_t revision = head->has_value() ? (*head)->record.latest_revision() : 0;
    latest.emplace(policy, revision);
    return revision;
  };

  const absl::Time now = clock_.Now();
  // Filters apply after reading, so keep reading until the page is full or the agents end.
  v1::ListAgentsResponse response;
  storage::RangeRequest range{
      .prefix = layout::kAgents, .continuation = *continuation, .limit = *page_size};
  while (true) {
    absl::StatusOr<storage::RangeResult> page = store_.Range(range);
    if (!page.ok()) return page.status();
    for (const storage::KeyValue& kv : page->kvs) {
      absl::StatusOr<StoredRecord<record::AgentRecord>> stored =
          ParseRecord<record::AgentRecord>(kv);
      if (!stored.ok()) continue;  // logged once; the others are still worth showing
      v1::Agent& agent = *stored->record.mutable_agent();
      const std::optional<record::AgentStatusRecord> state = state_.Get(agent.id());
      MergeAgentState(state.has_value() ? &*state : nullptr, now, offline_after_, agent);
      ShowSecretIssuedAt(agent);
      if ((!request.policy().empty() && agent.policy() != request.policy()) ||
          (request.status() != v1::AGENT_STATUS_UNSPECIFIED &&
           agent.status() != request.status()) ||
          !selector->Matches(agent.labels())) {
        continue;
      }
      if (request.rollout() != v1::AGENT_ROLLOUT_UNSPECIFIED) {
        absl::StatusOr<int64_t> revision = latest_of(agent.policy());
        if (!revision.ok()) return revision.status();
        if (RolloutOf(agent, *revision) != request.rollout()) continue;
      }
      *response.add_agents() = agent;
      if (response.agents_size() == *page_size) {
        response.set_next_page_token(EncodePageToken(kv.key));
        return response;
      }
    }
    if (page->continuation.empty()) return response;
    range.continuation = page->continuation;
  }
}

absl::StatusOr<v1::Agent> AgentRegistry::Get(const v1::GetAgentRequest& request) {
  if (absl::Status s = ValidateAgentId(request.id()); !s.ok()) return s;
  absl::StatusOr<std::optional<StoredRecord<record::AgentRecord>>> stored =
      ReadRecord<record::AgentRecord>(store_, layout::AgentKey(request.id()));
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return absl::NotFoundError(AgentName(request.id()) + " not found");
  return WithState(std::move(*(*stored)->record.mutable_agent()));
}

v1::Agent AgentRegistry::WithState(v1::Agent agent) {
  const std::optional<record::AgentStatusRecord> state = state_.Get(agent.id());
  MergeAgentState(state.has_value() ? &*state : nullptr, clock_.Now(), offline_after_, agent);
  ShowSecretIssuedAt(agent);
  return agent;
}

absl::Status AgentRegistry::Unenroll(const v1::UnenrollAgentRequest& request) {
  if (absl::Status s = ValidateAgentId(request.id()); !s.ok()) return s;
  const std::string key = layout::AgentKey(request.id());
  absl::StatusOr<storage::TxnResult> result = store_.Txn(
      {.compares = {storage::Compare::Exists(key)}, .success = {storage::Op::Delete(key)}});
  if (!result.ok()) return result.status();
  if (!result->succeeded) return absl::NotFoundError(AgentName(request.id()) + " not found");
  ForgetState(request.id());
  return absl::OkStatus();
}

absl::StatusOr<v1::Agent> AgentRegistry::Reassign(const v1::ReassignAgentRequest& request) {
  if (absl::Status s = ValidateAgentId(request.id()); !s.ok()) return s;
  if (absl::Status s = ValidateName("policy", request.policy()); !s.ok()) return s;
  const std::string policy_key = layout::PolicyKey(request.policy());
  absl::StatusOr<record::AgentRecord> updated = UpdateRecord<record::AgentRecord>(
      store_, layout::AgentKey(request.id()), AgentName(request.id()),
      [&](record::AgentRecord& record) -> absl::Status {
        absl::StatusOr<std::optional<storage::KeyValue>> policy = store_.Get(policy_key);
        if (!policy.ok()) return policy.status();
        if (!policy->has_value()) {
          return absl::NotFoundError(absl::StrCat("policy \"", request.policy(), "\" not found"));
        }
        MoveToPolicy(record, request.policy());
        return absl::OkStatus();
      },
      {storage::Compare::Exists(policy_key)},
      {storage::Op::Put(layout::PolicyRefsKey(request.policy()), "")});
  if (!updated.ok()) return updated.status();
  return WithState(std::move(*updated->mutable_agent()));
}

absl::StatusOr<v1::Agent> AgentRegistry::SetLabels(const v1::SetAgentLabelsRequest& request) {
  if (absl::Status s = ValidateAgentId(request.id()); !s.ok()) return s;
  if (absl::Status s = CheckLabelChange(request.set(), request.remove()); !s.ok()) return s;
  absl::StatusOr<record::AgentRecord> updated =
      UpdateRecord<record::AgentRecord>(store_, layout::AgentKey(request.id()),
                                        AgentName(request.id()), [&](record::AgentRecord& record) {
                                          auto& labels = *record.mutable_agent()->mutable_labels();
                                          for (const auto& [key, value] : request.set())
                                            labels[key] = value;
                                          for (const std::string& key : request.remove())
                                            labels.erase(key);
                                          return absl::OkStatus();
                                        });
  if (!updated.ok()) return updated.status();
  return WithState(std::move(*updated->mutable_agent()));
}

absl::StatusOr<v1::RotateAgentCredentialsResponse> AgentRegistry::RotateCredentials(
    const v1::RotateAgentCredentialsRequest& request) {
  const int given = (request.ids_size() > 0) + !request.selector().empty() + request.all();
  if (given != 1) {
    return absl::InvalidArgumentError("name the agents with exactly one of ids, selector and all");
  }
  // With neither ids nor a selector (all), SelectAgents' empty selector matches every agent.
  absl::StatusOr<std::vector<StoredRecord<record::AgentRecord>>> agents =
      SelectAgents(store_, request.ids(), request.selector());
  if (!agents.ok()) return agents.status();
  absl::StatusOr<std::vector<EditedAgent>> edited = EditAgents(
      store_, *std::move(agents),
      [&](record::AgentRecord& record) -> absl::StatusOr<AgentEdit> {
        RequestRotation(record, clock_.Now());
        return AgentEdit::kPut;
      },
      request.dry_run());
  if (!edited.ok()) return edited.status();
  v1::RotateAgentCredentialsResponse response;
  for (const EditedAgent& agent : *edited) response.add_ids(agent.record.agent().id());
  return response;
}

absl::StatusOr<std::vector<StoredRecord<record::AgentRecord>>> AgentRegistry::Select(
    const v1::AgentSelection& selection) {
  const bool has_selector = !absl::StripAsciiWhitespace(selection.selector()).empty();
  if ((selection.ids_size() > 0) == has_selector) {
    return absl::InvalidArgumentError(
        "name the agents with exactly one of ids and a selector (an empty selector would match "
        "every agent)");
  }
  return SelectAgents(store_, selection.ids(), selection.selector());
}

v1::AgentChangesResponse AgentRegistry::Changes(const std::vector<EditedAgent>& edited) {
  v1::AgentChangesResponse response;
  for (const EditedAgent& agent : edited) {
    v1::AgentChange& change = *response.add_changes();
    *change.mutable_agent() = WithState(agent.record.agent());
    change.set_changed(agent.edit != AgentEdit::kUnchanged);
  }
  return response;
}

void AgentRegistry::ForgetState(const std::string& id) {
  // The agent is gone; its last state is only clutter now, and views ignore state without an
  // agent, so a failure here loses nothing. Forgotten in memory too, or the next flush would
  // write it back.
  state_.Forget(id);
  store_.PutState({}, {layout::AgentStatusKey(id)}).IgnoreError();
}

absl::StatusOr<v1::AgentChangesResponse> AgentRegistry::UnenrollMany(
    const v1::UnenrollAgentsRequest& request) {
  absl::StatusOr<std::vector<StoredRecord<record::AgentRecord>>> agents = Select(request.agents());
  if (!agents.ok()) return agents.status();
  absl::StatusOr<std::vector<EditedAgent>> edited = EditAgents(
      store_, *std::move(agents), [](record::AgentRecord&) { return AgentEdit::kDelete; },
      request.dry_run());
  if (!edited.ok()) return edited.status();
  v1::AgentChangesResponse response = Changes(*edited);
  if (!request.dry_run()) {
    for (const EditedAgent& agent : *edited) ForgetState(agent.record.agent().id());
  }
  return response;
}

absl::StatusOr<v1::AgentChangesResponse> AgentRegistry::ReassignMany(
    const v1::ReassignAgentsRequest& request) {
  if (absl::Status s = ValidateName("policy", request.policy()); !s.ok()) return s;
  absl::StatusOr<std::vector<StoredRecord<record::AgentRecord>>> agents = Select(request.agents());
  if (!agents.ok()) return agents.status();
  const std::string policy_key = layout::PolicyKey(request.policy());
  absl::StatusOr<std::optional<storage::KeyValue>> policy = store_.Get(policy_key);
  if (!policy.ok()) return policy.status();
  if (!policy->has_value()) {
    return absl::NotFoundError(absl::StrCat("policy \"", request.policy(), "\" not found"));
  }
  absl::StatusOr<std::vector<EditedAgent>> edited = EditAgents(
      store_, *std::move(agents),
      [&](record::AgentRecord& record) {
        return MoveToPolicy(record, request.policy()) ? AgentEdit::kPut : AgentEdit::kUnchanged;
      },
      request.dry_run(),
      {.compares = {storage::Compare::Exists(policy_key)},
       .ops = {storage::Op::Put(layout::PolicyRefsKey(request.policy()), "")}});
  if (!edited.ok()) return edited.status();
  return Changes(*edited);
}

absl::StatusOr<v1::AgentChangesResponse> AgentRegistry::LabelMany(
    const v1::LabelAgentsRequest& request) {
  if (request.set().empty() && request.remove().empty()) {
    return absl::InvalidArgumentError("no label to set or remove");
  }
  if (absl::Status s = CheckLabelChange(request.set(), request.remove()); !s.ok()) return s;
  absl::StatusOr<std::vector<StoredRecord<record::AgentRecord>>> agents = Select(request.agents());
  if (!agents.ok()) return agents.status();
  absl::StatusOr<std::vector<EditedAgent>> edited = EditAgents(
      store_, *std::move(agents),
      [&](record::AgentRecord& record) -> absl::StatusOr<AgentEdit> {
        auto& labels = *record.mutable_agent()->mutable_labels();
        bool changed = false;
        for (const auto& [key, value] : request.set()) {
          auto it = labels.find(key);
          if (it != labels.end() && it->second == value) continue;
          if (it != labels.end() && !request.overwrite()) {
            return absl::FailedPreconditionError(absl::StrCat(
                "agent ", record.agent().id(), " has label ", key, "=", QuoteForError(it->second),
                "; setting it to ", QuoteForError(value),
                " needs overwrite (fleetctl agent label --overwrite); nothing was changed"));
          }
          labels[key] = value;
          changed = true;
        }
        for (const std::string& key : request.remove()) changed = labels.erase(key) > 0 || changed;
        return changed ? AgentEdit::kPut : AgentEdit::kUnchanged;
      },
      request.dry_run());
  if (!edited.ok()) return edited.status();
  return Changes(*edited);
}

}  // namespace fleet::server
