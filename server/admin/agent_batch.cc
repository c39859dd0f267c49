#include "server/admin/agent_batch.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/model/label_selector.h"
#include "server/model/store_layout.h"
#include "server/model/validation.h"

namespace fleet::server {
namespace {

// Edits every agent of `agents` into `edited`; the first error as it is.
absl::Status EditAll(const std::vector<StoredRecord<record::AgentRecord>>& agents,
                     const AgentEditFn& edit, std::vector<EditedAgent>& edited) {
  for (const StoredRecord<record::AgentRecord>& agent : agents) {
    EditedAgent& result = edited.emplace_back();
    result.record = agent.record;
    absl::StatusOr<AgentEdit> what = edit(result.record);
    if (!what.ok()) return what.status();
    result.edit = *what;
    // An unenrolled agent is shown as it was, not as the edit left the copy.
    if (result.edit == AgentEdit::kDelete) result.record = agent.record;
  }
  return absl::OkStatus();
}

// Writes one batch of `agents`, edited afresh on a lost race. Appends the agents still there.
absl::Status CommitBatch(storage::Store& store,
                         std::vector<StoredRecord<record::AgentRecord>> agents,
                         const AgentEditFn& edit, const BatchConditions& conditions,
                         std::vector<EditedAgent>& done) {
  constexpr int kMaxAttempts = 5;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    if (attempt > 0) {
      // Read again: the records that changed meanwhile (a stream's rotation step, an operator).
      std::vector<StoredRecord<record::AgentRecord>> fresh;
      for (const StoredRecord<record::AgentRecord>& agent : agents) {
        absl::StatusOr<std::optional<StoredRecord<record::AgentRecord>>> stored =
            ReadRecord<record::AgentRecord>(store, agent.key);
        if (!stored.ok()) return stored.status();
        if (stored->has_value()) fresh.push_back(**std::move(stored));  // else unenrolled
      }
      agents = std::move(fresh);
    }
    std::vector<EditedAgent> edited;
    if (absl::Status s = EditAll(agents, edit, edited); !s.ok()) return s;
    storage::TxnRequest txn;
    for (size_t i = 0; i < agents.size(); ++i) {
      if (edited[i].edit == AgentEdit::kUnchanged) continue;
      txn.compares.push_back(
          storage::Compare::ModRevisionIs(agents[i].key, agents[i].mod_revision));
      txn.success.push_back(
          edited[i].edit == AgentEdit::kDelete
              ? storage::Op::Delete(agents[i].key)
              : storage::Op::Put(agents[i].key, edited[i].record.SerializeAsString()));
    }
    if (!txn.success.empty()) {
      txn.compares.insert(txn.compares.end(), conditions.compares.begin(),
                          conditions.compares.end());
      txn.success.insert(txn.success.end(), conditions.ops.begin(), conditions.ops.end());
      absl::StatusOr<storage::TxnResult> result = store.Txn(txn);
      if (!result.ok()) return result.status();
      if (!result->succeeded) continue;
    }
    for (EditedAgent& agent : edited) done.push_back(std::move(agent));
    return absl::OkStatus();
  }
  return absl::AbortedError("agents kept changing concurrently; try again");
}

}  // namespace

absl::StatusOr<std::vector<StoredRecord<record::AgentRecord>>> SelectAgents(
    storage::Store& store, const google::protobuf::RepeatedPtrField<std::string>& ids,
    const std::string& selector) {
  std::vector<StoredRecord<record::AgentRecord>> agents;
  if (ids.empty()) {
    absl::StatusOr<LabelSelector> parsed = LabelSelector::Parse(selector);
    if (!parsed.ok()) return parsed.status();
    absl::StatusOr<std::vector<StoredRecord<record::AgentRecord>>> all =
        ReadAllRecords<record::AgentRecord>(store, layout::kAgents);
    if (!all.ok()) return all.status();
    for (StoredRecord<record::AgentRecord>& agent : *all) {
      if (parsed->Matches(agent.record.agent().labels())) agents.push_back(std::move(agent));
    }
    return agents;
  }
  if (ids.size() > kMaxSelectedIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("ids has ", ids.size(), " entries; at most ", kMaxSelectedIds));
  }
  std::set<std::string> unique;
  for (const std::string& id : ids) {
    if (absl::Status s = ValidateId("ids", id); !s.ok()) return s;
    unique.insert(id);
  }
  for (const std::string& id : unique) {
    absl::StatusOr<std::optional<StoredRecord<record::AgentRecord>>> stored =
        ReadRecord<record::AgentRecord>(store, layout::AgentKey(id));
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) return absl::NotFoundError(absl::StrCat("agent ", id, " not found"));
    agents.push_back(**std::move(stored));
  }
  return agents;
}

absl::StatusOr<std::vector<EditedAgent>> EditAgents(
    storage::Store& store, std::vector<StoredRecord<record::AgentRecord>> agents,
    const AgentEditFn& edit, bool dry_run, const BatchConditions& conditions) {
  std::vector<EditedAgent> edited;
  // All checked first, so that a refused edit changes nothing.
  if (absl::Status s = EditAll(agents, edit, edited); !s.ok()) return s;
  if (dry_run) return edited;
  std::vector<EditedAgent> done;
  std::vector<StoredRecord<record::AgentRecord>> batch;
  for (size_t i = 0; i < agents.size(); ++i) {
    batch.push_back(std::move(agents[i]));
    if (batch.size() < kAgentBatch && i + 1 < agents.size()) continue;
    if (absl::Status s = CommitBatch(store, std::move(batch), edit, conditions, done); !s.ok()) {
      return s;
    }
    batch.clear();
  }
  return done;
}

}  // namespace fleet::server
