#include "server/agent/agent_hub.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace fleet::server {

AgentHub::AgentHub(AgentDirectory& directory)
    : directory_(directory), mail_kicker_([this] { RunMailKicks(); }) {}

AgentHub::~AgentHub() {
  {
    absl::MutexLock lock(&kicks_mu_);
    stopping_ = true;
    // The streams are gone by now (the agent service stops first): nothing is left to kick.
    mail_kicks_.clear();
  }
  mail_kicker_.join();
}

void AgentHub::RunMailKicks() {
  auto ready = [this] {
    kicks_mu_.AssertHeld();
    return stopping_ || !mail_kicks_.empty();
  };
  while (true) {
    std::vector<std::shared_ptr<AgentSession>> sessions;
    {
      absl::MutexLock lock(&kicks_mu_);
      kicks_mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      sessions = std::move(mail_kicks_.front());
      mail_kicks_.pop_front();
    }
    KickAll(sessions);
  }
}

void AgentHub::RecheckAgent(const std::string& agent_id) {
  {
    absl::MutexLock assign(&assign_mu_);
    MoveSession(agent_id, directory_.PolicyOf(agent_id));
  }
  // A repeated request is harmless: the protocol starts one rotation at a time.
  if (directory_.RotationRequested(agent_id)) RotationRequested(agent_id);
}

void AgentHub::AgentAssigned(const std::string& agent_id, const std::string& policy) {
  absl::MutexLock assign(&assign_mu_);
  MoveSession(agent_id, policy);
}

void AgentHub::RotationRequested(const std::string& agent_id) {
  if (std::shared_ptr<AgentSession> session = SessionOf(agent_id)) session->RotateCredentials();
}

std::shared_ptr<AgentSession> AgentHub::SessionOf(const std::string& agent_id) {
  absl::MutexLock lock(&mu_);
  auto it = by_agent_.find(agent_id);
  return it == by_agent_.end() ? nullptr : it->second.session.lock();
}

void AgentHub::MoveSession(const std::string& agent_id, const std::string& policy) {
  std::shared_ptr<AgentSession> session;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_agent_.find(agent_id);
    if (it == by_agent_.end()) return;
    session = it->second.session.lock();
    if (!policy.empty() && policy != it->second.policy) {
      by_policy_[it->second.policy].erase(agent_id);
      it->second.policy = policy;
      by_policy_[policy].insert(agent_id);
    }
  }
  if (session == nullptr) return;
  if (policy.empty()) {
    session->Unenrolled();
  } else {
    session->Reassign(policy);
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
  connection_log_.Connected(session->agent_id(), policy);
  if (replaced != nullptr) replaced->Replaced();
}

void AgentHub::TakenOver(const std::string& agent_id) {
  if (std::shared_ptr<AgentSession> session = SessionOf(agent_id); session != nullptr) {
    session->Replaced();
  }
}

bool AgentHub::Unregister(const AgentSession& session) {
  const bool current = Remove(session);
  connection_log_.Disconnected(session.agent_id(), /*replaced=*/!current);
  return current;
}

bool AgentHub::Remove(const AgentSession& session) {
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

void AgentHub::MailDue(const std::string& agent_id) {
  if (std::shared_ptr<AgentSession> session = SessionOf(agent_id)) session->Kick();
}

void AgentHub::MailDueMany(const std::vector<std::string>& agent_ids) {
  std::vector<std::shared_ptr<AgentSession>> sessions;
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& agent_id : agent_ids) {
      auto it = by_agent_.find(agent_id);
      if (it == by_agent_.end()) continue;
      if (auto session = it->second.session.lock()) sessions.push_back(std::move(session));
    }
  }
  // A few (a query to one agent) are kicked here, without waiting behind a big batch.
  if (sessions.size() <= kInlineKicks) {
    for (const std::shared_ptr<AgentSession>& session : sessions) session->Kick();
    return;
  }
  absl::MutexLock lock(&kicks_mu_);
  mail_kicks_.push_back(std::move(sessions));
}

void AgentHub::KickAll(const std::vector<std::shared_ptr<AgentSession>>& sessions) {
  // The streams of one connection side by side, so that the pool's threads kick them at the same
  // time: a write gRPC is handed while another of the same connection is under way goes out with
  // it, in one sendmsg, where a write to an idle connection goes out alone.
  std::vector<AgentSession*> order;
  order.reserve(sessions.size());
  for (const std::shared_ptr<AgentSession>& session : sessions) order.push_back(session.get());
  std::sort(order.begin(), order.end(), [](const AgentSession* a, const AgentSession* b) {
    return a->connection() < b->connection();
  });
  // Slices small enough that the threads work on one connection at once, and that the last agent
  // does not wait for everyone else's write to start.
  constexpr size_t kSlice = 8;
  kick_pool_.ParallelFor(order.size(), kSlice, [&](size_t i) { order[i]->Kick(); });
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

std::vector<std::pair<std::string, size_t>> AgentHub::SizeByPolicy() {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<std::string, size_t>> sizes;
  sizes.reserve(by_policy_.size());
  for (const auto& [policy, agents] : by_policy_) sizes.emplace_back(policy, agents.size());
  return sizes;
}

}  // namespace fleet::server
