#include "server/control/agent_state.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/log_fields.h"
#include "server/model/record_repair.h"
#include "server/model/store_layout.h"
#include "spdlog/spdlog.h"

namespace fleet::server {
namespace {

// Writes per transaction: well under the store's op limit.
constexpr size_t kBatchSize = 5000;

// The part of a state a rollout counts.
// The part of a state a rollout counts, taken before a change to see whether it moved. Every ack
// and heartbeat takes one: four fields, no protobuf message.
struct RolloutFields {
  explicit RolloutFields(const record::AgentStatusRecord& state)
      : status(state.status()),
        applied(state.applied_revision()),
        nacked(state.nacked_revision()),
        policy(state.policy()) {}

  bool SameAs(const record::AgentStatusRecord& state) const {
    return status == state.status() && applied == state.applied_revision() &&
           nacked == state.nacked_revision() && policy == state.policy();
  }

  v1::AgentStatus status;
  int64_t applied;
  int64_t nacked;
  std::string policy;
};

}  // namespace

AgentStateTracker::AgentStateTracker(storage::Store& store, Clock& clock, AgentStateOptions options,
                                     AgentStateObserver* observer)
    : store_(store), clock_(clock), options_(options), observer_(observer), flusher_([this] {
        Run();
      }) {}

AgentStateTracker::~AgentStateTracker() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  flusher_.join();
  Flush().IgnoreError();  // best effort at shutdown: the state is bounded-stale by design
}

AgentStateTracker::Shard& AgentStateTracker::ShardOf(const std::string& agent_id) {
  return shards_[absl::Hash<std::string>{}(agent_id) % kShards];
}

void AgentStateTracker::Update(const std::string& agent_id,
                               const std::function<void(record::AgentStatusRecord&)>& change) {
  Change(agent_id, change, /*claim=*/false);
}

void AgentStateTracker::Claim(const std::string& agent_id,
                              const std::function<void(record::AgentStatusRecord&)>& change) {
  Change(agent_id, change, /*claim=*/true);
}

void AgentStateTracker::Change(const std::string& agent_id,
                               const std::function<void(record::AgentStatusRecord&)>& change,
                               bool claim) {
  const int64_t now = absl::ToUnixMicros(clock_.Now());
  Shard& shard = ShardOf(agent_id);
  absl::MutexLock lock(&shard.mu);
  record::AgentStatusRecord& state = shard.states[agent_id];
  if (!claim && HeldElsewhere(state)) return;  // a stream that was taken over
  const RolloutFields before(state);
  // Only with a write interval: the state as it was, to tell a heartbeat from a change.
  std::optional<std::string> unchanged;
  const int64_t seen_before = state.last_seen_unix_micros();
  if (options_.last_seen_write_interval > absl::ZeroDuration()) {
    unchanged = state.SerializeAsString();
  }
  if (claim && !options_.replica.empty()) {
    state.set_replica(options_.replica);
    state.set_claimed_unix_micros(now);
  }
  change(state);
  bool write = true;
  if (unchanged.has_value()) {
    state.set_last_seen_unix_micros(seen_before);
    auto dirtied = shard.dirtied_at.find(agent_id);
    write = state.SerializeAsString() != *unchanged || dirtied == shard.dirtied_at.end() ||
            now - dirtied->second >= absl::ToInt64Microseconds(options_.last_seen_write_interval);
    if (write) shard.dirtied_at[agent_id] = now;
  }
  state.set_last_seen_unix_micros(now);
  if (write) shard.dirty.insert(agent_id);
  if (observer_ != nullptr && !before.SameAs(state)) {
    observer_->StateChanged(agent_id, state);
  }
}

bool AgentStateTracker::ApplyRemote(const std::string& agent_id, record::AgentStatusRecord state) {
  if (state.replica().empty() || state.replica() == options_.replica) return false;
  Shard& shard = ShardOf(agent_id);
  absl::MutexLock lock(&shard.mu);
  record::AgentStatusRecord& current = shard.states[agent_id];
  // Of two replicas that both say they hold the agent, the later claim wins: a word of the one
  // that held it before, landing after the newer claim, is stale.
  const bool stale = current.status() == v1::AGENT_STATUS_ONLINE &&
                     current.replica() != state.replica() &&
                     state.claimed_unix_micros() < current.claimed_unix_micros();
  if (HeldHere(current) && (stale || state.status() != v1::AGENT_STATUS_ONLINE)) {
    // Answered with this replica's own state, published again.
    shard.dirty.insert(agent_id);
    return false;
  }
  if (stale) return false;
  // Otherwise another replica took the agent over (its stream here, if any, ends), or it speaks
  // of an agent it holds.
  const bool taken_over = HeldHere(current);
  const RolloutFields before(current);
  current = std::move(state);
  if (observer_ != nullptr && !before.SameAs(current)) {
    observer_->StateChanged(agent_id, current);
  }
  return taken_over;
}

void AgentStateTracker::RemoteGone(const std::string& agent_id) {
  Shard& shard = ShardOf(agent_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.states.find(agent_id);
  if (it == shard.states.end()) return;
  record::AgentStatusRecord& current = it->second;
  if (HeldHere(current)) {
    shard.dirty.insert(agent_id);  // our own record went with a lost lease: publish it again
    return;
  }
  if (!HeldElsewhere(current) || current.status() != v1::AGENT_STATUS_ONLINE) return;
  const RolloutFields before(current);
  current.set_status(v1::AGENT_STATUS_OFFLINE);
  if (observer_ != nullptr && !before.SameAs(current)) {
    observer_->StateChanged(agent_id, current);
  }
}

std::vector<std::string> AgentStateTracker::ReplaceRemote(
    const std::vector<std::pair<std::string, record::AgentStatusRecord>>& states) {
  absl::flat_hash_set<std::string> listed;
  std::vector<std::string> taken_over;
  for (const auto& [id, state] : states) {
    listed.insert(id);
    if (ApplyRemote(id, state)) taken_over.push_back(id);
  }
  std::vector<std::string> gone;
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const auto& [id, state] : shard.states) {
      if (HeldElsewhere(state) && state.status() == v1::AGENT_STATUS_ONLINE &&
          !listed.contains(id)) {
        gone.push_back(id);
      }
    }
  }
  for (const std::string& id : gone) RemoteGone(id);
  return taken_over;
}

void AgentStateTracker::RepublishHeld() {
  for (Shard& shard : shards_) {
    absl::MutexLock lock(&shard.mu);
    for (const auto& [id, state] : shard.states) {
      if (HeldHere(state)) shard.dirty.insert(id);
    }
  }
}

void AgentStateTracker::SetPublisher(AgentStatePublisher* publisher) {
  // Under the flush lock: a flush in progress still uses the publisher it took, so that once
  // this returns nothing calls the old one any more.
  absl::MutexLock flush_lock(&flush_mu_);
  publisher_.store(publisher);
}

std::optional<record::AgentStatusRecord> AgentStateTracker::Get(const std::string& agent_id) {
  Shard& shard = ShardOf(agent_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.states.find(agent_id);
  if (it == shard.states.end()) return std::nullopt;
  return it->second;
}

bool AgentStateTracker::IsOnline(const std::string& agent_id) {
  Shard& shard = ShardOf(agent_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.states.find(agent_id);
  return it != shard.states.end() && it->second.status() == v1::AGENT_STATUS_ONLINE &&
         !HeldElsewhere(it->second);
}

std::string AgentStateTracker::HolderElsewhere(const std::string& agent_id) {
  Shard& shard = ShardOf(agent_id);
  absl::MutexLock lock(&shard.mu);
  auto it = shard.states.find(agent_id);
  if (it == shard.states.end() || !HeldElsewhere(it->second) ||
      it->second.status() != v1::AGENT_STATUS_ONLINE) {
    return "";
  }
  return it->second.replica();
}

absl::Status AgentStateTracker::Load() {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> stored =
      store_.RangeState(layout::kAgentStatus);
  if (!stored.ok()) return stored.status();
  for (const auto& [key, value] : *stored) {
    record::AgentStatusRecord state;
    // A state with ill-formed UTF-8 (cut mid-character by an older fleetd) is read repaired, so
    // that what the agent acked still counts; one that does not parse even so is dropped: the
    // agent reports again when it connects.
    bool repaired = false;
    if (!ParseRecordRepairingUtf8(value, state, &repaired)) {
      LogRecordProblemOnce(key, "does not parse; the agent's state starts afresh");
      continue;
    }
    if (repaired) LogRecordProblemOnce(key, "holds ill-formed UTF-8; read as U+FFFD");
    const std::string id = key.substr(sizeof(layout::kAgentStatus) - 1);
    Shard& shard = ShardOf(id);
    absl::MutexLock lock(&shard.mu);
    if (shard.states.contains(id)) continue;
    state.set_status(v1::AGENT_STATUS_OFFLINE);
    // What the agent acked before the restart still counts for its rollouts.
    if (observer_ != nullptr) observer_->StateChanged(id, state);
    shard.states[id] = std::move(state);
  }
  return absl::OkStatus();
}

void AgentStateTracker::Forget(const std::string& agent_id) {
  Shard& shard = ShardOf(agent_id);
  absl::MutexLock lock(&shard.mu);
  shard.states.erase(agent_id);
  shard.dirty.erase(agent_id);
}

absl::Status AgentStateTracker::Flush() {
  absl::MutexLock flush_lock(&flush_mu_);
  absl::Status status;
  std::vector<std::pair<std::string, std::string>> puts;
  // The states of agents held here, for the other replicas of a shared store.
  std::vector<std::pair<std::string, record::AgentStatusRecord>> held;
  AgentStatePublisher* const publisher = publisher_.load();
  // Ids taken from the shards' dirty sets; put back if their write fails.
  std::vector<std::string> taken;
  auto commit = [&] {
    if (puts.empty() || !status.ok()) return;
    status = store_.PutState(puts, {});
    puts.clear();
    if (status.ok() && publisher != nullptr && !held.empty()) status = publisher->Publish(held);
    held.clear();
  };
  for (Shard& shard : shards_) {
    {
      absl::MutexLock lock(&shard.mu);
      for (const std::string& id : shard.dirty) {
        auto it = shard.states.find(id);
        if (it == shard.states.end()) continue;
        puts.emplace_back(layout::AgentStatusKey(id), it->second.SerializeAsString());
        if (publisher != nullptr && it->second.replica() == options_.replica) {
          held.emplace_back(id, it->second);
        }
        taken.push_back(id);
      }
      shard.dirty.clear();
    }
    if (puts.size() >= kBatchSize) commit();
  }
  commit();
  if (!status.ok()) {
    // Written again with the next flush (from the newest state, whatever landed meanwhile).
    for (const std::string& id : taken) {
      Shard& shard = ShardOf(id);
      absl::MutexLock lock(&shard.mu);
      if (shard.states.contains(id)) shard.dirty.insert(id);
    }
  }
  return status;
}

void AgentStateTracker::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    auto stopping = [this] {
      mu_.AssertHeld();
      return stopping_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.flush_interval);
    if (stopping_) break;
    mu_.Unlock();
    // Retried with the next interval; meanwhile the stored state lags the agents'.
    if (absl::Status flushed = Flush(); !flushed.ok()) {
      const std::string error(flushed.message());
      LogEvent(spdlog::level::warn, "store error", {{"op", "flush agent state"}, {"error", error}});
    }
    mu_.Lock();
  }
}

}  // namespace fleet::server
