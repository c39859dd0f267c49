#include "server/admin/target_resolver.h"

#include <optional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/admin/agent_batch.h"
#include "server/model/label_selector.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/store_layout.h"
#include "server/model/validation.h"

namespace fleet::server {
namespace {

using AgentRecords = std::vector<StoredRecord<record::AgentRecord>>;

// The records of `ids` (each checked), or NOT_FOUND naming the first unknown one.
absl::StatusOr<AgentRecords> ReadNamed(storage::Store& store,
                                       const google::protobuf::RepeatedPtrField<std::string>& ids) {
  if (ids.size() > kMaxSelectedIds) {
    return absl::InvalidArgumentError(
        absl::StrCat("targets.agent_ids has ", ids.size(), " entries; at most ", kMaxSelectedIds));
  }
  std::set<std::string> unique;
  for (const std::string& id : ids) {
    if (absl::Status s = ValidateId("targets.agent_ids", id); !s.ok()) return s;
    unique.insert(id);
  }
  AgentRecords agents;
  for (const std::string& id : unique) {
    absl::StatusOr<std::optional<StoredRecord<record::AgentRecord>>> stored =
        ReadRecord<record::AgentRecord>(store, layout::AgentKey(id));
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) return absl::NotFoundError(absl::StrCat("agent ", id, " not found"));
    agents.push_back(**std::move(stored));
  }
  return agents;
}

}  // namespace

absl::StatusOr<std::vector<ResolvedTarget>> ResolveTargets(storage::Store& store,
                                                           AgentDirectory& directory,
                                                           const v1::Targets& targets) {
  if (targets.agent_ids().empty() && targets.selector().empty() && targets.policy().empty()) {
    return absl::InvalidArgumentError(
        "targets: name agents by agent_ids, selector or policy (at least one)");
  }
  std::optional<LabelSelector> selector;
  if (!targets.selector().empty()) {
    absl::StatusOr<LabelSelector> parsed = LabelSelector::Parse(targets.selector());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("targets.", parsed.status().message()));
    }
    selector = *std::move(parsed);
  }
  if (!targets.policy().empty()) {
    if (absl::Status s = ValidateName("targets.policy", targets.policy()); !s.ok()) return s;
    absl::StatusOr<std::optional<storage::KeyValue>> head =
        store.Get(layout::PolicyKey(targets.policy()));
    if (!head.ok()) return head.status();
    if (!head->has_value()) {
      return absl::NotFoundError(absl::StrCat("policy ", targets.policy(), " not found"));
    }
  }
  const auto matches = [&](const google::protobuf::Map<std::string, std::string>& labels,
                           const std::string& policy) {
    return (!selector.has_value() || selector->Matches(labels)) &&
           (targets.policy().empty() || policy == targets.policy());
  };
  std::vector<ResolvedTarget> resolved;
  if (targets.agent_ids().empty()) {
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> selected = directory.Select(
        store.CurrentRevision(),
        [&](const DirectoryAgent& agent) { return matches(agent.labels, agent.policy); });
    if (!selected.ok()) return selected.status();
    resolved.reserve(selected->size());
    for (auto& [id, hostname] : *selected) resolved.push_back({std::move(id), std::move(hostname)});
  } else {
    absl::StatusOr<AgentRecords> agents = ReadNamed(store, targets.agent_ids());
    if (!agents.ok()) return agents.status();
    for (const StoredRecord<record::AgentRecord>& stored : *agents) {
      const v1::Agent& agent = stored.record.agent();
      if (matches(agent.labels(), agent.policy())) {
        resolved.push_back({agent.id(), agent.hostname()});
      }
    }
  }
  if (resolved.empty()) {
    return absl::InvalidArgumentError("targets: no enrolled agent matches every criterion given");
  }
  return resolved;
}

}  // namespace fleet::server
