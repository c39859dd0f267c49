#include "server/control/agent_state.h"

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
  const int64_t now = absl::ToUnixMicros(clock_.Now());
  Shard& shard = ShardOf(agent_id);
  absl::MutexLock lock(&shard.mu);
  record::AgentStatusRecord& state = shard.states[agent_id];
  const RolloutFields before(state);
  change(state);
  state.set_last_seen_unix_micros(now);
  shard.dirty.insert(agent_id);
  if (observer_ != nullptr && !before.SameAs(state)) {
    observer_->StateChanged(agent_id, state);
  }
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
  return it != shard.states.end() && it->second.status() == v1::AGENT_STATUS_ONLINE;
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
  // Ids taken from the shards' dirty sets; put back if their write fails.
  std::vector<std::string> taken;
  auto commit = [&] {
    if (puts.empty() || !status.ok()) return;
    status = store_.PutState(puts, {});
    puts.clear();
  };
  for (Shard& shard : shards_) {
    {
      absl::MutexLock lock(&shard.mu);
      for (const std::string& id : shard.dirty) {
        auto it = shard.states.find(id);
        if (it == shard.states.end()) continue;
        puts.emplace_back(layout::AgentStatusKey(id), it->second.SerializeAsString());
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
