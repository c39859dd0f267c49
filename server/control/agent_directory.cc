#include "server/control/agent_directory.h"

#include <algorithm>
#include <utility>

#include "google/protobuf/util/time_util.h"
#include "server/model/agent_credentials.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/secret_token.h"
#include "server/model/store_layout.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;

// How long an admin call waits for the directory to catch up with a revision it has read.
constexpr absl::Duration kCatchUpTimeout = absl::Seconds(5);

std::string IdOf(const std::string& key) { return key.substr(sizeof(layout::kAgents) - 1); }

}  // namespace

AgentDirectory::~AgentDirectory() { Stop(); }

void AgentDirectory::Stop() { reflector_.reset(); }

absl::Status AgentDirectory::Start(absl::Duration sync_timeout) {
  reflector_ = std::make_unique<storage::Reflector>(
      store_, static_cast<storage::ReflectorHandler&>(*this),
      storage::ReflectorOptions{.name = "agent directory", .prefix = layout::kAgents});
  if (!reflector_->WaitSynced(sync_timeout)) {
    return absl::UnavailableError("the agent directory could not list the store's agents");
  }
  return absl::OkStatus();
}

AgentDirectory::Entry AgentDirectory::EntryOf(const record::AgentRecord& record) {
  return Entry{.facts = DirectoryAgent{.hostname = record.agent().hostname(),
                                       .policy = record.agent().policy(),
                                       .labels = record.agent().labels()},
               .secret_sha256 = record.secret_sha256(),
               .pending_sha256 = record.pending_secret_sha256(),
               .rotation_requested_us =
                   record.agent().has_rotation_requested_at()
                       ? TimeUtil::TimestampToMicroseconds(record.agent().rotation_requested_at())
                       : 0,
               .secret_issued_at = SecretIssuedAt(record.agent())};
}

void AgentDirectory::Set(const std::string& agent_id, const Entry* entry, Changes& changes) {
  auto it = agents_.find(agent_id);
  const std::string old_policy = it == agents_.end() ? "" : it->second.facts.policy;
  const std::string new_policy = entry == nullptr ? "" : entry->facts.policy;
  if (old_policy != new_policy) {
    if (!old_policy.empty() && --per_policy_[old_policy] == 0) per_policy_.erase(old_policy);
    if (!new_policy.empty()) ++per_policy_[new_policy];
    changes.assigned[agent_id] = new_policy;
  }
  const int64_t old_request = it == agents_.end() ? 0 : it->second.rotation_requested_us;
  if (entry != nullptr && entry->rotation_requested_us != 0 &&
      entry->rotation_requested_us != old_request) {
    changes.rotations.push_back(agent_id);
  }
  if (entry == nullptr) {
    if (it != agents_.end()) agents_.erase(it);
  } else {
    agents_[agent_id] = *entry;
  }
}

void AgentDirectory::Replace(const std::vector<storage::KeyValue>& kvs, int64_t) {
  Changes changes;
  {
    absl::MutexLock lock(&mu_);
    absl::flat_hash_map<std::string, Entry> listed;
    for (const storage::KeyValue& kv : kvs) {
      // Read as the admin side reads it: ill-formed UTF-8 repaired, what does not parse logged.
      absl::StatusOr<StoredRecord<record::AgentRecord>> stored =
          ParseRecord<record::AgentRecord>(kv);
      if (!stored.ok()) continue;
      listed[IdOf(kv.key)] = EntryOf(stored->record);
    }
    std::vector<std::string> gone;
    for (const auto& [id, entry] : agents_) {
      if (!listed.contains(id)) gone.push_back(id);
    }
    for (const std::string& id : gone) Set(id, nullptr, changes);
    for (const auto& [id, entry] : listed) Set(id, &entry, changes);
  }
  Notify(changes);
}

void AgentDirectory::Apply(const storage::WatchBatch& batch) {
  Changes changes;
  {
    absl::MutexLock lock(&mu_);
    for (const storage::Event& event : batch.events) {
      const std::string id = IdOf(event.kv.key);
      if (event.type == storage::Event::Type::kDelete) {
        Set(id, nullptr, changes);
        continue;
      }
      absl::StatusOr<StoredRecord<record::AgentRecord>> stored =
          ParseRecord<record::AgentRecord>(event.kv);
      if (!stored.ok()) continue;
      const Entry entry = EntryOf(stored->record);
      Set(id, &entry, changes);
    }
  }
  Notify(changes);
}

void AgentDirectory::Notify(const Changes& changes) {
  for (const auto& [id, policy] : changes.assigned) {
    for (AgentDirectoryObserver* observer : observers_) observer->AgentAssigned(id, policy);
  }
  for (const std::string& id : changes.rotations) {
    for (AgentDirectoryObserver* observer : observers_) observer->RotationRequested(id);
  }
}

absl::StatusOr<AuthenticatedAgent> AgentDirectory::Authenticate(const std::string& agent_id,
                                                                const std::string& secret) {
  if (!synced()) {
    return absl::UnavailableError("fleetd is catching up with its store; retry shortly");
  }
  absl::MutexLock lock(&mu_);
  auto it = agents_.find(agent_id);
  const bool current = it != agents_.end() && SecretMatches(secret, it->second.secret_sha256);
  const bool pending = it != agents_.end() && !current && !it->second.pending_sha256.empty() &&
                       SecretMatches(secret, it->second.pending_sha256);
  if (!current && !pending) {
    return absl::UnauthenticatedError("unknown or unenrolled agent, or a wrong secret");
  }
  const Entry& entry = it->second;
  return AuthenticatedAgent{.policy = entry.facts.policy,
                            .pending_sha256 = pending ? entry.pending_sha256 : "",
                            .rotation_requested = entry.rotation_requested_us != 0,
                            .secret_issued_at = entry.secret_issued_at};
}

bool AgentDirectory::RotationRequested(const std::string& agent_id) {
  absl::MutexLock lock(&mu_);
  auto it = agents_.find(agent_id);
  return it != agents_.end() && it->second.rotation_requested_us != 0;
}

std::string AgentDirectory::PolicyOf(const std::string& agent_id) {
  absl::MutexLock lock(&mu_);
  auto it = agents_.find(agent_id);
  return it == agents_.end() ? "" : it->second.facts.policy;
}

bool AgentDirectory::WaitForAgent(const std::string& agent_id, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto known = [this, &agent_id] {
    mu_.AssertHeld();
    return agents_.contains(agent_id);
  };
  return mu_.AwaitWithTimeout(absl::Condition(&known), timeout);
}

bool AgentDirectory::WaitForRevision(int64_t revision, absl::Duration timeout) {
  return reflector_ != nullptr && reflector_->WaitForRevision(revision, timeout);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> AgentDirectory::Select(
    int64_t revision, const std::function<bool(const DirectoryAgent&)>& match) {
  if (!WaitForRevision(revision, kCatchUpTimeout)) {
    return absl::UnavailableError("fleetd's agent directory is behind its store; retry shortly");
  }
  std::vector<std::pair<std::string, std::string>> selected;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, entry] : agents_) {
      if (match(entry.facts)) selected.emplace_back(id, entry.facts.hostname);
    }
  }
  std::sort(selected.begin(), selected.end());
  return selected;
}

absl::StatusOr<int64_t> AgentDirectory::AgentsOn(const std::string& policy, int64_t revision) {
  if (!WaitForRevision(revision, kCatchUpTimeout)) {
    return absl::UnavailableError("fleetd's agent directory is behind its store; retry shortly");
  }
  absl::MutexLock lock(&mu_);
  auto it = per_policy_.find(policy);
  return it == per_policy_.end() ? 0 : it->second;
}

}  // namespace fleet::server
