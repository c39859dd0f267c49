#include "server/control/rollout_tracker.h"

#include "fleet/v1/admin.pb.h"

namespace fleet::server {

void RolloutTracker::Count(const Agent& agent, int delta) {
  if (agent.policy.empty()) return;
  PolicyCounts& counts = policies_[agent.policy];
  counts.agents += delta;
  if (!agent.online) counts.offline += delta;
  const bool same = agent.state_policy == agent.policy;
  const std::tuple<bool, int64_t, int64_t> at(agent.online, same ? agent.applied : 0,
                                              same ? agent.nacked : 0);
  auto it = counts.by_state.try_emplace(at, 0).first;
  it->second += delta;
  if (it->second == 0) counts.by_state.erase(it);
  Bump(agent.policy);
}

void RolloutTracker::Bump(const std::string& policy) {
  ++policies_[policy].version;
  changed_.SignalAll();
}

void RolloutTracker::AgentAssigned(const std::string& agent_id, const std::string& policy) {
  absl::MutexLock lock(&mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) {
    if (policy.empty()) return;
    it = agents_.try_emplace(agent_id).first;
  }
  Count(it->second, -1);
  it->second.policy = policy;
  Count(it->second, +1);
  if (policy.empty()) agents_.erase(it);
}

void RolloutTracker::StateChanged(const std::string& agent_id,
                                  const record::AgentStatusRecord& state) {
  absl::MutexLock lock(&mu_);
  Agent& agent = agents_[agent_id];
  Count(agent, -1);
  agent.online = state.status() == v1::AGENT_STATUS_ONLINE;
  agent.state_policy = state.policy();
  agent.applied = state.applied_revision();
  agent.nacked = state.nacked_revision();
  Count(agent, +1);
}

void RolloutTracker::PolicyChanged(const std::string& policy) {
  absl::MutexLock lock(&mu_);
  Bump(policy);
}

std::pair<RolloutCounts, int64_t> RolloutTracker::Count(const std::string& policy,
                                                        int64_t revision) {
  absl::MutexLock lock(&mu_);
  RolloutCounts result;
  auto it = policies_.find(policy);
  if (it == policies_.end()) return {result, 0};
  const PolicyCounts& counts = it->second;
  result.agents = counts.agents;
  result.offline = counts.offline;
  for (const auto& [at, agents] : counts.by_state) {
    const auto& [online, applied, nacked] = at;
    if (applied >= revision) {
      result.acked += agents;
    } else if (nacked >= revision) {
      result.nacked += agents;
    } else if (online) {
      result.pending += agents;
    } else {
      result.pending_offline += agents;
    }
  }
  return {result, counts.version};
}

int64_t RolloutTracker::Version(const std::string& policy) {
  absl::MutexLock lock(&mu_);
  auto it = policies_.find(policy);
  return it == policies_.end() ? 0 : it->second.version;
}

int64_t RolloutTracker::AwaitChange(const std::string& policy, int64_t version,
                                    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock lock(&mu_);
  while (true) {
    auto it = policies_.find(policy);
    const int64_t now = it == policies_.end() ? 0 : it->second.version;
    if (now != version || changed_.WaitWithDeadline(&mu_, deadline)) return now;
  }
}

}  // namespace fleet::server
