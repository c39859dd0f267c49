#include "server/agent/agent_hub.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <utility>
#include <vector>

#include "server/model/records.pb.h"
#include "server/model/store_layout.h"
#include "storage/errors.h"

namespace fleet::server {

absl::StatusOr<std::unique_ptr<AgentHub>> AgentHub::Start(storage::Store& store) {
  std::unique_ptr<AgentHub> hub(new AgentHub(store));
  absl::StatusOr<std::unique_ptr<storage::Watcher>> watcher =
      store.Watch(layout::kAgents, store.CurrentRevision());
  if (!watcher.ok()) return watcher.status();
  hub->watcher_ = *std::move(watcher);
  hub->thread_ = std::thread([raw = hub.get()] { raw->Follow(); });
  return hub;
}

AgentHub::~AgentHub() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  {
    absl::MutexLock lock(&mu_);
    watcher_->Cancel();
  }
  thread_.join();
}

void AgentHub::Follow() {
  while (true) {
    storage::Watcher* watcher;
    {
      absl::MutexLock lock(&mu_);
      watcher = watcher_.get();
    }
    absl::StatusOr<storage::WatchBatch> batch = watcher->Next(absl::Seconds(1));
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (storage::IsCompacted(batch.status())) {
      // Fell behind the log: check every session's agent again, then follow from now.
      absl::StatusOr<std::unique_ptr<storage::Watcher>> watcher =
          store_.Watch(layout::kAgents, store_.CurrentRevision());
      if (!watcher.ok()) return;
      {
        absl::MutexLock lock(&mu_);
        if (stopping_) return;
        watcher_ = *std::move(watcher);
      }
      Recheck();
      continue;
    }
    if (!batch.ok()) return;  // the store closed
    for (const storage::Event& event : batch->events) {
      const std::string id = event.kv.key.substr(sizeof(layout::kAgents) - 1);
      if (event.type == storage::Event::Type::kDelete) {
        AgentChanged(id, nullptr);
        continue;
      }
      record::AgentRecord record;
      if (record.ParseFromString(event.kv.value)) AgentChanged(id, &record.agent().policy());
    }
  }
}

void AgentHub::Recheck() {
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, entry] : by_agent_) ids.push_back(id);
  }
  for (const std::string& id : ids) RecheckAgent(id);
}

void AgentHub::RecheckAgent(const std::string& agent_id) {
  absl::StatusOr<std::optional<storage::KeyValue>> kv = store_.Get(layout::AgentKey(agent_id));
  if (!kv.ok()) return;  // the next change or recheck catches up
  record::AgentRecord record;
  if (!kv->has_value()) {
    AgentChanged(agent_id, nullptr);
  } else if (record.ParseFromString((*kv)->value)) {
    AgentChanged(agent_id, &record.agent().policy());
  }
}

void AgentHub::AgentChanged(const std::string& agent_id, const std::string* policy) {
  std::shared_ptr<AgentSession> session;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_agent_.find(agent_id);
    if (it == by_agent_.end()) return;
    session = it->second.session.lock();
    if (policy != nullptr && *policy != it->second.policy) {
      by_policy_[it->second.policy].erase(agent_id);
      it->second.policy = *policy;
      by_policy_[*policy].insert(agent_id);
    }
  }
  if (session == nullptr) return;
  if (policy == nullptr) {
    session->Unenrolled();
  } else {
    session->Reassign(*policy);
  }
}

void AgentHub::Register(const std::shared_ptr<AgentSession>& session, const std::string& policy) {
  std::shared_ptr<AgentSession> replaced;
  {
    absl::MutexLock lock(&mu_);
    Entry& entry = by_agent_[session->agent_id()];
    replaced = entry.session.lock();
    if (!entry.policy.empty()) by_policy_[entry.policy].erase(session->agent_id());
    entry = Entry{.session = session, .raw = session.get(), .policy = policy};
    by_policy_[policy].insert(session->agent_id());
  }
  if (replaced != nullptr) replaced->Replaced();
}

bool AgentHub::Unregister(const AgentSession& session) {
  absl::MutexLock lock(&mu_);
  auto it = by_agent_.find(session.agent_id());
  if (it == by_agent_.end() || it->second.raw != &session) return false;
  auto policy = by_policy_.find(it->second.policy);
  if (policy != by_policy_.end()) {
    policy->second.erase(session.agent_id());
    if (policy->second.empty()) by_policy_.erase(policy);
  }
  by_agent_.erase(it);
  return true;
}

std::vector<std::shared_ptr<AgentSession>> AgentHub::SessionsOf(const std::string& policy) {
  std::vector<std::shared_ptr<AgentSession>> sessions;
  auto it = by_policy_.find(policy);
  if (it == by_policy_.end()) return sessions;
  sessions.reserve(it->second.size());
  for (const std::string& id : it->second) {
    if (auto session = by_agent_[id].session.lock()) sessions.push_back(std::move(session));
  }
  return sessions;
}

void AgentHub::PolicyChanged(const std::string& policy) {
  std::vector<std::shared_ptr<AgentSession>> sessions;
  {
    absl::MutexLock lock(&mu_);
    sessions = SessionsOf(policy);
  }
  KickAll(sessions);
}

void AgentHub::KickAll(const std::vector<std::shared_ptr<AgentSession>>& sessions) {
  // A kick prepares the shared bytes for one stream and starts its write: about ten microseconds
  // of gRPC work, so one thread takes a second per 100,000 agents. A few threads share the list,
  // in slices, so that the last agent does not wait for everyone else's write to start.
  constexpr size_t kSessionsPerThread = 2000;
  constexpr size_t kMaxThreads = 4;
  constexpr size_t kSlice = 64;
  const size_t count = sessions.size();
  const size_t threads =
      std::min(kMaxThreads, (count + kSessionsPerThread - 1) / kSessionsPerThread);
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t begin = next.fetch_add(kSlice); begin < count; begin = next.fetch_add(kSlice)) {
      const size_t end = std::min(count, begin + kSlice);
      for (size_t i = begin; i < end; ++i) sessions[i]->Kick();
    }
  };
  std::vector<std::thread> helpers;
  for (size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& helper : helpers) helper.join();
}

void AgentHub::CloseAll() {
  std::vector<std::shared_ptr<AgentSession>> sessions;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [id, entry] : by_agent_) {
      if (auto session = entry.session.lock()) sessions.push_back(std::move(session));
    }
  }
  for (const std::shared_ptr<AgentSession>& session : sessions) session->GoAway();
}

size_t AgentHub::size() {
  absl::MutexLock lock(&mu_);
  return by_agent_.size();
}

}  // namespace fleet::server
