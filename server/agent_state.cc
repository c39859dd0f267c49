#include "server/agent_state.h"

#include <utility>
#include <vector>

#include "server/store_layout.h"

namespace fleet::server {
namespace {

// Writes per transaction: well under the store's op limit.
constexpr size_t kBatchSize = 5000;

}  // namespace

AgentStateTracker::AgentStateTracker(storage::Store& store, Clock& clock, AgentStateOptions options)
    : store_(store), clock_(clock), options_(options), flusher_([this] { Run(); }) {}

AgentStateTracker::~AgentStateTracker() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  flusher_.join();
  Flush().IgnoreError();  // best effort at shutdown: the state is bounded-stale by design
}

void AgentStateTracker::Update(const std::string& agent_id,
                               const std::function<void(record::AgentStatusRecord&)>& change) {
  const int64_t now = absl::ToUnixMicros(clock_.Now());
  absl::MutexLock lock(&mu_);
  record::AgentStatusRecord& state = states_[agent_id];
  change(state);
  state.set_last_seen_unix_micros(now);
  dirty_[agent_id] = state;
}

void AgentStateTracker::Forget(const std::string& agent_id) {
  absl::MutexLock lock(&mu_);
  states_.erase(agent_id);
  dirty_.erase(agent_id);
}

absl::Status AgentStateTracker::Flush() {
  absl::MutexLock flush_lock(&flush_mu_);
  std::map<std::string, record::AgentStatusRecord> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(dirty_);
  }
  absl::Status status;
  std::vector<std::pair<std::string, std::string>> puts;
  auto commit = [&] {
    if (puts.empty() || !status.ok()) return;
    status = store_.PutState(puts, {});
    puts.clear();
  };
  for (const auto& [id, state] : batch) {
    puts.emplace_back(layout::AgentStatusKey(id), state.SerializeAsString());
    if (puts.size() >= kBatchSize) commit();
  }
  commit();
  if (!status.ok()) {
    // Keep what did not land, unless a newer state replaced it meanwhile.
    absl::MutexLock lock(&mu_);
    for (auto& [id, state] : batch) dirty_.try_emplace(id, std::move(state));
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
    Flush().IgnoreError();  // retried with the next interval
    mu_.Lock();
  }
}

}  // namespace fleet::server
