#include "server/control/policy_engine.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fleet/v1/admin.pb.h"
#include "google/protobuf/util/time_util.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/store_layout.h"
#include "storage/errors.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;

// Revisions kept parsed per policy besides the latest; older bases are read from the store.
constexpr size_t kCachedRevisions = 8;

}  // namespace

PolicyEngine::PolicyEngine(storage::Store& store, Listener listener)
    : store_(store), listener_(std::move(listener)) {}

absl::StatusOr<std::unique_ptr<PolicyEngine>> PolicyEngine::Start(storage::Store& store,
                                                                  Listener listener) {
  std::unique_ptr<PolicyEngine> engine(new PolicyEngine(store, std::move(listener)));
  {
    absl::MutexLock lock(&engine->mu_);
    std::map<std::string, int64_t> found;
    if (absl::Status status = engine->Resync(found); !status.ok()) return status;
  }
  engine->thread_ = std::thread([raw = engine.get()] { raw->Follow(); });
  return engine;
}

PolicyEngine::~PolicyEngine() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (watcher_ != nullptr) watcher_->Cancel();
  }
  if (thread_.joinable()) thread_.join();
}

absl::Status PolicyEngine::Resync(std::map<std::string, int64_t>& changed) {
  absl::StatusOr<storage::RangeResult> heads = store_.Range({.prefix = layout::kPolicies});
  if (!heads.ok()) return heads.status();
  std::map<std::string, PolicyState> policies;
  for (const storage::KeyValue& kv : heads->kvs) {
    absl::StatusOr<StoredRecord<record::PolicyHead>> head = ParseRecord<record::PolicyHead>(kv);
    if (!head.ok()) return head.status();
    policies[head->record.name()].latest = head->record.latest_revision();
    policies[head->record.name()].oldest = head->record.oldest_revision();
    changed[head->record.name()] = head->record.latest_revision();
  }
  for (const auto& [name, state] : policies_) {
    if (!policies.contains(name)) changed[name] = 0;
  }
  policies_ = std::move(policies);
  absl::StatusOr<std::unique_ptr<storage::Watcher>> watcher =
      store_.Watch(layout::kPolicyKeys, heads->revision);
  if (!watcher.ok()) return watcher.status();
  watcher_ = *std::move(watcher);
  return absl::OkStatus();
}

void PolicyEngine::Follow() {
  while (true) {
    storage::Watcher* watcher;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      watcher = watcher_.get();
    }
    absl::StatusOr<storage::WatchBatch> batch = watcher->Next(absl::Seconds(1));
    std::map<std::string, int64_t> changed;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      if (storage::IsCompacted(batch.status())) {
        // Too far behind for the log: list everything again.
        if (!Resync(changed).ok()) return;
      } else if (!batch.ok()) {
        return;  // the store closed
      } else {
        for (const storage::Event& event : batch->events) Apply(event, changed);
      }
    }
    for (const auto& [policy, latest] : changed) listener_(policy, latest);
  }
}

void PolicyEngine::Apply(const storage::Event& event, std::map<std::string, int64_t>& changed) {
  const std::string& key = event.kv.key;
  const bool put = event.type == storage::Event::Type::kPut;
  if (key.starts_with(layout::kPolicies)) {
    const std::string name = key.substr(sizeof(layout::kPolicies) - 1);
    if (!put) {
      policies_.erase(name);
      changed[name] = 0;
      return;
    }
    record::PolicyHead head;
    if (!head.ParseFromString(event.kv.value)) return;  // DATA_LOSS shows on the admin side
    PolicyState& state = policies_[name];
    // Pruned revisions are no base for a delta any more, even while still cached.
    state.oldest = head.oldest_revision();
    state.revisions.erase(state.revisions.begin(), state.revisions.lower_bound(state.oldest));
    if (head.latest_revision() == state.latest) return;
    state.latest = head.latest_revision();
    state.updates.clear();
    changed[name] = state.latest;
  } else if (key.starts_with(layout::kPolicyRevisions) && put) {
    // Cache the content as it is committed; the head in the same transaction names it latest.
    absl::StatusOr<RevisionPtr> revision = ParseRevision(event.kv);
    if (!revision.ok()) return;  // DATA_LOSS shows on the admin side
    PolicyState& state = policies_[(*revision)->policy];
    Cache(state, *std::move(revision));
  }
}

absl::StatusOr<PolicyEngine::RevisionPtr> PolicyEngine::ParseRevision(const storage::KeyValue& kv) {
  v1::Policy stored;
  if (!stored.ParseFromString(kv.value)) {
    return absl::DataLossError(absl::StrCat("stored revision ", kv.key, " does not parse"));
  }
  nlohmann::json spec = nlohmann::json::parse(stored.spec_json(), nullptr, false);
  if (spec.is_discarded()) {
    return absl::DataLossError(absl::StrCat("stored revision ", kv.key, " is not JSON"));
  }
  return std::make_shared<const Revision>(Revision{
      .policy = stored.name(),
      .revision = stored.revision(),
      .spec = std::move(spec),
      .canonical = stored.spec_json(),
      .sha256 = stored.sha256(),
      .commit_time = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(stored.created_at()))});
}

void PolicyEngine::Cache(PolicyState& state, RevisionPtr revision) {
  // An old base is worth keeping only while agents still ask for it; the latest always stays.
  if (state.revisions.size() >= kCachedRevisions) {
    auto oldest = state.revisions.begin();
    if (oldest->first != state.latest) state.revisions.erase(oldest);
  }
  state.revisions[revision->revision] = std::move(revision);
}

absl::StatusOr<PolicyEngine::RevisionPtr> PolicyEngine::FindRevision(const std::string& policy,
                                                                     PolicyState& state,
                                                                     int64_t revision) {
  if (revision < state.oldest) return RevisionPtr();  // pruned: not retained
  if (auto it = state.revisions.find(revision); it != state.revisions.end()) return it->second;
  absl::StatusOr<std::optional<storage::KeyValue>> kv =
      store_.Get(layout::PolicyRevisionKey(policy, revision));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return RevisionPtr();  // not retained
  absl::StatusOr<RevisionPtr> found = ParseRevision(**kv);
  if (!found.ok()) return found.status();
  Cache(state, *found);
  return *found;
}

PreparedUpdatePtr PolicyEngine::Prepare(const std::string& policy, const Revision& to,
                                        const Revision* from) {
  auto prepared = std::make_shared<PreparedUpdate>();
  v1::PolicyUpdate& update = prepared->update;
  update.set_policy(policy);
  update.set_target_revision(to.revision);
  update.set_sha256(to.sha256);
  *update.mutable_commit_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(to.commit_time));
  if (from != nullptr) {
    update.set_kind(v1::PolicyUpdate::DELTA);
    update.set_base_revision(from->revision);
    update.set_patch_json(nlohmann::json::diff(from->spec, to.spec).dump());
  } else {
    update.set_kind(v1::PolicyUpdate::FULL);
    update.set_document_json(to.canonical);
  }
  v1::ServerMessage message;
  *message.mutable_policy_update() = update;
  prepared->serialized_message = message.SerializeAsString();
  return prepared;
}

int64_t PolicyEngine::LatestRevision(const std::string& policy) {
  absl::MutexLock lock(&mu_);
  auto it = policies_.find(policy);
  return it == policies_.end() ? 0 : it->second.latest;
}

int64_t PolicyEngine::updates_computed() {
  absl::MutexLock lock(&mu_);
  return updates_computed_;
}

absl::StatusOr<PreparedUpdatePtr> PolicyEngine::UpdateFor(const std::string& policy,
                                                          const AgentPosition& from) {
  absl::MutexLock lock(&mu_);
  auto it = policies_.find(policy);
  if (it == policies_.end() || it->second.latest == 0) {
    return absl::NotFoundError(absl::StrCat("policy \"", policy, "\" not found"));
  }
  PolicyState& state = it->second;
  absl::StatusOr<RevisionPtr> latest = FindRevision(policy, state, state.latest);
  if (!latest.ok()) return latest.status();
  if (*latest == nullptr) {
    return absl::UnavailableError(absl::StrCat("policy \"", policy, "\" is changing; retry"));
  }
  const bool same_policy = from.policy == policy && !from.needs_full;
  if (same_policy && from.revision == state.latest && from.sha256 == (*latest)->sha256) {
    return PreparedUpdatePtr();  // up to date
  }
  RevisionPtr base;
  if (same_policy && from.revision > 0 && from.revision < state.latest) {
    absl::StatusOr<RevisionPtr> found = FindRevision(policy, state, from.revision);
    if (!found.ok()) return found.status();
    // Only a base whose content the agent really has: a hash mismatch gets the whole document.
    if (*found != nullptr && (*found)->sha256 == from.sha256) base = *found;
  }
  const int64_t key = base == nullptr ? 0 : base->revision;
  if (auto cached = state.updates.find(key); cached != state.updates.end()) return cached->second;
  PreparedUpdatePtr prepared = Prepare(policy, **latest, base.get());
  ++updates_computed_;
  state.updates[key] = prepared;
  return prepared;
}

}  // namespace fleet::server
