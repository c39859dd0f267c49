#include "server/control/policy_engine.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/store_layout.h"

namespace fleet::server {
namespace {

// Revisions kept parsed per policy besides the latest; older bases are loaded on demand.
constexpr size_t kCachedRevisions = 8;
// How long the worker waits before trying again a job the store failed.
constexpr absl::Duration kRetryAfter = absl::Milliseconds(200);

absl::Status NotReady(const std::string& policy) {
  return absl::UnavailableError(
      absl::StrCat("the update of policy \"", policy, "\" is being prepared; ask again"));
}

}  // namespace

PolicyEngine::PolicyEngine(storage::Store& store, Listener listener, int64_t cache_bytes)
    : store_(store), listener_(std::move(listener)), cache_bytes_(cache_bytes) {}

absl::StatusOr<std::unique_ptr<PolicyEngine>> PolicyEngine::Start(storage::Store& store,
                                                                  Listener listener,
                                                                  absl::Duration sync_timeout,
                                                                  int64_t cache_bytes) {
  std::unique_ptr<PolicyEngine> engine(new PolicyEngine(store, std::move(listener), cache_bytes));
  engine->worker_ = std::thread([raw = engine.get()] { raw->Work(); });
  engine->reflector_ = std::make_unique<storage::Reflector>(
      store, static_cast<storage::ReflectorHandler&>(*engine),
      storage::ReflectorOptions{.name = "policy engine",
                                .prefix = layout::kPolicyKeys,
                                .list_prefix = layout::kPolicies});
  if (!engine->reflector_->WaitSynced(sync_timeout)) {
    return absl::UnavailableError("the policy engine could not list the store's policies");
  }
  return engine;
}

PolicyEngine::~PolicyEngine() {
  reflector_.reset();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  worker_.join();
}

void PolicyEngine::Replace(const std::vector<storage::KeyValue>& heads, int64_t) {
  std::map<std::string, int64_t> changed;
  std::map<std::string, int64_t> previous;
  {
    absl::MutexLock lock(&mu_);
    std::map<std::string, PolicyState> policies;
    for (const storage::KeyValue& kv : heads) {
      absl::StatusOr<StoredRecord<record::PolicyHead>> head = ParseRecord<record::PolicyHead>(kv);
      if (!head.ok()) continue;  // DATA_LOSS shows on the admin side
      const std::string& name = head->record.name();
      PolicyState& state = policies[name];
      if (auto old = policies_.find(name); old != policies_.end()) {
        state = std::move(old->second);
        previous[name] = state.latest;
      }
      ApplyHead(head->record, kv.create_revision, state);
      // Announced whether or not it moved: while the engine could not see the store, agents may
      // have been left waiting for an answer.
      changed[name] = state.latest;
    }
    for (auto& [name, state] : policies_) {
      if (policies.contains(name)) continue;
      changed[name] = 0;
      Forget(state);
    }
    policies_ = std::move(policies);
  }
  PrepareAndAnnounce(changed, previous);
}

bool PolicyEngine::ApplyHead(const record::PolicyHead& head, int64_t created, PolicyState& state) {
  if (state.created != 0 && state.created != created) {
    // Deleted and made again meanwhile: nothing of the old one holds.
    Forget(state);
    state = PolicyState{};
  }
  state.created = created;
  // Pruned revisions are no base for a delta any more, even while still cached.
  state.oldest = head.oldest_revision();
  while (!state.revisions.empty() && state.revisions.begin()->first < state.oldest) {
    Uncache(state, state.revisions.begin());
  }
  state.missing.erase(state.missing.begin(), state.missing.lower_bound(state.oldest));
  if (head.latest_revision() == state.latest) return false;
  state.latest = head.latest_revision();
  state.latest_unservable = false;
  state.updates.clear();
  return true;
}

void PolicyEngine::Apply(const storage::WatchBatch& batch) {
  // Revisions are parsed before taking the lock: they may be megabytes of JSON, and streams
  // wait for the lock.
  std::vector<PolicyContentPtr> contents(batch.events.size());
  for (size_t i = 0; i < batch.events.size(); ++i) {
    const storage::Event& event = batch.events[i];
    if (event.type != storage::Event::Type::kPut ||
        !event.kv.key.starts_with(layout::kPolicyRevisions)) {
      continue;
    }
    absl::StatusOr<PolicyContentPtr> content = ParsePolicyContent(event.kv);
    if (content.ok()) contents[i] = *std::move(content);  // else DATA_LOSS shows on the admin side
  }
  std::map<std::string, int64_t> changed;
  std::map<std::string, int64_t> previous;
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < batch.events.size(); ++i) {
      const std::string& key = batch.events[i].kv.key;
      if (key.starts_with(layout::kPolicies)) {
        const std::string name = key.substr(sizeof(layout::kPolicies) - 1);
        auto it = policies_.find(name);
        if (it != policies_.end() && !previous.contains(name)) previous[name] = it->second.latest;
      }
      ApplyEvent(batch.events[i], std::move(contents[i]), changed);
    }
  }
  PrepareAndAnnounce(changed, previous);
}

void PolicyEngine::ApplyEvent(const storage::Event& event, PolicyContentPtr content,
                              std::map<std::string, int64_t>& changed) {
  const std::string& key = event.kv.key;
  const bool put = event.type == storage::Event::Type::kPut;
  if (key.starts_with(layout::kPolicies)) {
    const std::string name = key.substr(sizeof(layout::kPolicies) - 1);
    if (!put) {
      if (auto it = policies_.find(name); it != policies_.end()) Forget(it->second);
      policies_.erase(name);
      changed[name] = 0;
      return;
    }
    absl::StatusOr<StoredRecord<record::PolicyHead>> head =
        ParseRecord<record::PolicyHead>(event.kv);
    if (!head.ok()) return;  // logged once; DATA_LOSS shows on the admin side
    PolicyState& state = policies_[name];
    if (ApplyHead(head->record, event.kv.create_revision, state)) changed[name] = state.latest;
  } else if (content != nullptr) {
    // Cache the content as it is committed; the head in the same transaction names it latest.
    PolicyState& state = policies_[content->policy];
    Cache(state, std::move(content));
  }
}

void PolicyEngine::PrepareAndAnnounce(const std::map<std::string, int64_t>& changed,
                                      const std::map<std::string, int64_t>& previous) {
  for (const auto& [policy, latest] : changed) {
    if (latest == 0) continue;
    PolicyContentPtr to;
    PolicyContentPtr from;
    {
      absl::MutexLock lock(&mu_);
      auto it = policies_.find(policy);
      if (it == policies_.end() || it->second.latest != latest) continue;  // moved on already
      PolicyState& state = it->second;
      if (state.updates.contains(0)) continue;  // prepared already
      to = Find(state, latest);
      auto before = previous.find(policy);
      if (before != previous.end() && before->second != latest) from = Find(state, before->second);
    }
    if (to == nullptr) {
      // After a listing: the content is read here, on the reflector's thread, which may block.
      absl::StatusOr<PolicyContentPtr> loaded = Load(policy, latest);
      if (!loaded.ok() || *loaded == nullptr) {
        absl::MutexLock lock(&mu_);
        Request(policy, 0);  // the worker keeps trying
        continue;
      }
      to = *std::move(loaded);
    }
    PreparedUpdatePtr full = PrepareUpdate(*to, nullptr);
    PreparedUpdatePtr delta = from == nullptr ? nullptr : PrepareUpdate(*to, from.get());
    absl::MutexLock lock(&mu_);
    auto it = policies_.find(policy);
    if (it == policies_.end()) continue;
    Cache(it->second, to);
    Keep(policy, latest, nullptr, std::move(full));
    if (delta != nullptr) Keep(policy, latest, from.get(), std::move(delta));
  }
  for (const auto& [policy, latest] : changed) listener_(policy, latest);
}

void PolicyEngine::Cache(PolicyState& state, PolicyContentPtr content) {
  if (content->revision < state.oldest) return;
  auto [it, added] = state.revisions.try_emplace(content->revision);
  it->second.used = ++uses_;
  if (!added) return;  // the same revision is the same content
  it->second.bytes = content->memory_bytes;
  it->second.content = std::move(content);
  cached_bytes_ += it->second.bytes;
  // An old base is worth keeping only while agents still ask for it; the latest always stays.
  while (state.revisions.size() > kCachedRevisions) {
    auto [owner, victim] = LeastRecentlyUsed(&state);
    if (owner == nullptr) break;
    Uncache(*owner, victim);
  }
  while (cached_bytes_ > cache_bytes_) {
    auto [owner, victim] = LeastRecentlyUsed(nullptr);
    if (owner == nullptr) break;
    Uncache(*owner, victim);
  }
}

PolicyContentPtr PolicyEngine::Find(PolicyState& state, int64_t revision) {
  auto it = state.revisions.find(revision);
  if (it == state.revisions.end()) return nullptr;
  it->second.used = ++uses_;
  return it->second.content;
}

void PolicyEngine::Uncache(PolicyState& state, std::map<int64_t, Cached>::iterator it) {
  cached_bytes_ -= it->second.bytes;
  state.revisions.erase(it);
}

void PolicyEngine::Forget(PolicyState& state) {
  while (!state.revisions.empty()) Uncache(state, state.revisions.begin());
}

std::pair<PolicyEngine::PolicyState*, std::map<int64_t, PolicyEngine::Cached>::iterator>
PolicyEngine::LeastRecentlyUsed(PolicyState* only) {
  std::pair<PolicyState*, std::map<int64_t, Cached>::iterator> least{nullptr, {}};
  auto consider = [&](PolicyState& state) {
    // Revisions from the latest on stay: the latest is every fan-out's, and a newer one is
    // cached as it is committed, just before its head names it the latest.
    for (auto it = state.revisions.begin(); it != state.revisions.end() && it->first < state.latest;
         ++it) {
      if (least.first == nullptr || it->second.used < least.second->second.used) {
        least = {&state, it};
      }
    }
  };
  if (only != nullptr) {
    consider(*only);
  } else {
    for (auto& [name, state] : policies_) consider(state);
  }
  return least;
}

void PolicyEngine::Keep(const std::string& policy, int64_t latest, const PolicyContent* base,
                        PreparedUpdatePtr update) {
  auto it = policies_.find(policy);
  if (it == policies_.end() || it->second.latest != latest) return;
  it->second.updates[base == nullptr ? 0 : base->revision] =
      Prepared{.base_sha256 = base == nullptr ? "" : base->sha256, .update = std::move(update)};
  ++updates_computed_;
}

void PolicyEngine::Request(const std::string& policy, int64_t base) {
  Job job(policy, base);
  if (!queued_.insert(job).second) return;
  jobs_.push_back(std::move(job));
}

absl::StatusOr<PolicyContentPtr> PolicyEngine::Load(const std::string& policy, int64_t revision) {
  absl::StatusOr<std::optional<storage::KeyValue>> kv =
      store_.Get(layout::PolicyRevisionKey(policy, revision));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return PolicyContentPtr();
  return ParsePolicyContent(**kv);
}

bool PolicyEngine::Do(const Job& job) {
  const auto& [policy, base] = job;
  int64_t latest = 0;
  PolicyContentPtr to;
  PolicyContentPtr from;
  {
    absl::MutexLock lock(&mu_);
    auto it = policies_.find(policy);
    if (it == policies_.end() || it->second.latest == 0) return true;  // deleted: nothing to do
    PolicyState& state = it->second;
    latest = state.latest;
    if (state.updates.contains(base)) return true;
    if (base != 0 && (base < state.oldest || state.missing.contains(base))) return true;
    to = Find(state, latest);
    if (base != 0) from = Find(state, base);
  }
  for (auto [revision, content] : {std::pair{latest, &to}, std::pair{base, &from}}) {
    if (revision == 0 || *content != nullptr) continue;
    absl::StatusOr<PolicyContentPtr> loaded = Load(policy, revision);
    // A revision that does not parse is as good as missing (DATA_LOSS shows on the admin side);
    // any other error is the store's, and the job is tried again.
    if (!loaded.ok() && loaded.status().code() != absl::StatusCode::kDataLoss) return false;
    *content = loaded.ok() ? *std::move(loaded) : nullptr;
    absl::MutexLock lock(&mu_);
    auto it = policies_.find(policy);
    if (it == policies_.end()) return true;
    if (*content == nullptr) {
      if (revision == latest) {
        // Unreadable, or too big to send: nobody asks again until the policy changes. Else the
        // head moved on, and its own announcement follows.
        if (!loaded.ok() && it->second.latest == latest) it->second.latest_unservable = true;
        return true;
      }
      // Pruned meanwhile, or never there: agents on it get the FULL document.
      it->second.missing.insert(revision);
    } else {
      Cache(it->second, *content);
    }
  }
  if (to == nullptr) return true;
  PreparedUpdatePtr update = PrepareUpdate(*to, from.get());
  absl::MutexLock lock(&mu_);
  Keep(policy, latest, from.get(), std::move(update));
  return true;
}

void PolicyEngine::Work() {
  absl::MutexLock lock(&mu_);
  while (true) {
    auto ready = [this] {
      mu_.AssertHeld();
      return stopping_ || !jobs_.empty();
    };
    mu_.Await(absl::Condition(&ready));
    if (stopping_) return;
    std::deque<Job> jobs = std::move(jobs_);
    jobs_.clear();
    std::vector<Job> failed;
    std::map<std::string, int64_t> done;
    mu_.Unlock();
    for (const Job& job : jobs) {
      if (Do(job)) {
        done[job.first] = 0;
      } else {
        failed.push_back(job);
      }
    }
    mu_.Lock();
    for (auto& [policy, latest] : done) {
      auto it = policies_.find(policy);
      latest = it == policies_.end() ? 0 : it->second.latest;
    }
    for (const Job& job : jobs) queued_.erase(job);
    for (const Job& job : failed) Request(job.first, job.second);
    mu_.Unlock();
    // The streams that were told to ask again do so now.
    for (const auto& [policy, latest] : done) listener_(policy, latest);
    mu_.Lock();
    if (!failed.empty()) {
      auto stopping = [this] {
        mu_.AssertHeld();
        return stopping_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), kRetryAfter);
    }
  }
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

PolicyEngine::CacheSize PolicyEngine::cache_size() {
  absl::MutexLock lock(&mu_);
  CacheSize size{.bytes = cached_bytes_};
  for (const auto& [name, state] : policies_) {
    for (const auto& [revision, cached] : state.revisions) {
      ++size.revisions;
      if (revision != state.latest) size.old_bytes += cached.bytes;
    }
  }
  return size;
}

absl::StatusOr<PreparedUpdatePtr> PolicyEngine::UpdateFor(const std::string& policy,
                                                          const AgentPosition& from) {
  absl::MutexLock lock(&mu_);
  auto it = policies_.find(policy);
  if (it == policies_.end() || it->second.latest == 0) {
    return absl::NotFoundError(absl::StrCat("policy \"", policy, "\" not found"));
  }
  PolicyState& state = it->second;
  auto latest = state.revisions.find(state.latest);
  if (latest == state.revisions.end()) {
    if (state.latest_unservable) {
      return absl::FailedPreconditionError(
          absl::StrCat("revision ", state.latest, " of policy \"", policy,
                       "\" cannot be sent (unreadable, or over the size limit): apply a new one"));
    }
    Request(policy, 0);
    return NotReady(policy);
  }
  const bool same_policy = from.policy == policy && !from.needs_full;
  if (same_policy && from.revision == state.latest &&
      from.sha256 == latest->second.content->sha256) {
    return PreparedUpdatePtr();  // up to date
  }
  int64_t key = 0;
  if (same_policy && from.revision >= state.oldest && from.revision > 0 &&
      from.revision < state.latest && !state.missing.contains(from.revision)) {
    // Only a base whose content the agent really has: a hash mismatch gets the whole document.
    if (auto prepared = state.updates.find(from.revision); prepared != state.updates.end()) {
      if (prepared->second.base_sha256 == from.sha256) return prepared->second.update;
    } else if (auto base = state.revisions.find(from.revision); base == state.revisions.end()) {
      Request(policy, from.revision);
      return NotReady(policy);
    } else if (base->second.content->sha256 == from.sha256) {
      base->second.used = ++uses_;
      key = from.revision;
    }
  }
  if (auto cached = state.updates.find(key); cached != state.updates.end()) {
    return cached->second.update;
  }
  Request(policy, key);
  return NotReady(policy);
}

}  // namespace fleet::server
