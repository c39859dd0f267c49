#include "server/admin/agent_registry.h"

#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
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
  // The agent is gone; its last state is only clutter now, and views ignore state without an
  // agent, so a failure here loses nothing. Forgotten in memory too, or the next flush would
  // write it back.
  state_.Forget(request.id());
  store_.PutState({}, {layout::AgentStatusKey(request.id())}).IgnoreError();
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
        v1::Agent& agent = *record.mutable_agent();
        if (agent.policy() == request.policy()) return absl::OkStatus();
        agent.set_policy(request.policy());
        // Revisions are per policy: what the agent applied of the old one means nothing here.
        agent.set_applied_revision(0);
        agent.set_nacked_revision(0);
        agent.clear_nack_reason();
        return absl::OkStatus();
      },
      {storage::Compare::Exists(policy_key)},
      {storage::Op::Put(layout::PolicyRefsKey(request.policy()), "")});
  if (!updated.ok()) return updated.status();
  return WithState(std::move(*updated->mutable_agent()));
}

absl::StatusOr<v1::Agent> AgentRegistry::SetLabels(const v1::SetAgentLabelsRequest& request) {
  if (absl::Status s = ValidateAgentId(request.id()); !s.ok()) return s;
  for (const auto& [key, value] : request.set()) {
    if (absl::Status s = ValidateLabelKey("label key", key); !s.ok()) return s;
    if (absl::Status s = ValidateLabelValue("label value", value); !s.ok()) return s;
  }
  for (const std::string& key : request.remove()) {
    if (absl::Status s = ValidateLabelKey("label key", key); !s.ok()) return s;
    if (request.set().contains(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat("label \"", key, "\" is both set and removed"));
    }
  }
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
  if (request.ids_size() > kMaxRotationIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("ids has ", request.ids_size(), " entries; at most ", kMaxRotationIds));
  }
  // The keys of the agents to mark, in key (so id) order.
  std::set<std::string> keys;
  if (request.ids_size() > 0) {
    for (const std::string& id : request.ids()) {
      if (absl::Status s = ValidateId("ids", id); !s.ok()) return s;
      keys.insert(layout::AgentKey(id));
    }
    for (const std::string& key : keys) {
      absl::StatusOr<std::optional<storage::KeyValue>> kv = store_.Get(key);
      if (!kv.ok()) return kv.status();
      if (!kv->has_value()) {
        return absl::NotFoundError(AgentName(key.substr(sizeof(layout::kAgents) - 1)) +
                                   " not found");
      }
    }
  } else {
    absl::StatusOr<LabelSelector> selector = LabelSelector::Parse(request.selector());
    if (!selector.ok()) return selector.status();
    absl::StatusOr<std::vector<StoredRecord<record::AgentRecord>>> agents =
        ReadAllRecords<record::AgentRecord>(store_, layout::kAgents);
    if (!agents.ok()) return agents.status();
    for (const StoredRecord<record::AgentRecord>& agent : *agents) {
      if (selector->Matches(agent.record.agent().labels())) keys.insert(agent.key);
    }
  }
  v1::RotateAgentCredentialsResponse response;
  std::vector<std::string> marked;
  std::vector<std::string> batch;
  for (const std::string& key : keys) {
    batch.push_back(key);
    if (batch.size() < kRotationBatch) continue;
    if (absl::Status s = MarkForRotation(batch, marked); !s.ok()) return s;
    batch.clear();
  }
  if (!batch.empty()) {
    if (absl::Status s = MarkForRotation(batch, marked); !s.ok()) return s;
  }
  for (std::string& id : marked) response.add_ids(std::move(id));
  return response;
}

absl::Status AgentRegistry::MarkForRotation(const std::vector<std::string>& keys,
                                            std::vector<std::string>& marked) {
  constexpr int kMaxAttempts = 5;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    const absl::Time now = clock_.Now();
    storage::TxnRequest txn;
    std::vector<std::string> ids;
    for (const std::string& key : keys) {
      absl::StatusOr<std::optional<StoredRecord<record::AgentRecord>>> stored =
          ReadRecord<record::AgentRecord>(store_, key);
      if (!stored.ok()) return stored.status();
      if (!stored->has_value()) continue;  // unenrolled meanwhile
      record::AgentRecord& record = (*stored)->record;
      RequestRotation(record, now);
      txn.compares.push_back(storage::Compare::ModRevisionIs(key, (*stored)->mod_revision));
      txn.success.push_back(storage::Op::Put(key, record.SerializeAsString()));
      ids.push_back(record.agent().id());
    }
    if (ids.empty()) return absl::OkStatus();
    absl::StatusOr<storage::TxnResult> result = store_.Txn(txn);
    if (!result.ok()) return result.status();
    if (result->succeeded) {
      marked.insert(marked.end(), ids.begin(), ids.end());
      return absl::OkStatus();
    }
    // An agent of the batch changed meanwhile (a stream's rotation step, an operator): again.
  }
  return absl::AbortedError("agents kept changing concurrently; try again");
}

}  // namespace fleet::server
