#include "server/control/session_share.h"

#include <algorithm>

#include "server/model/record_repair.h"
#include "server/model/store_layout.h"
#include "storage/txn_batches.h"

namespace fleet::server {
namespace {

constexpr size_t kPrefixSize = sizeof(layout::kSessions) - 1;

// The agent id and record of a session key, or nullopt for one that does not parse (skipped:
// its replica writes it again with the agent's next change).
std::optional<std::pair<std::string, record::AgentStatusRecord>> Parse(
    const storage::KeyValue& kv) {
  record::AgentStatusRecord state;
  if (kv.key.size() <= kPrefixSize || !ParseRecordRepairingUtf8(kv.value, state, nullptr)) {
    LogRecordProblemOnce(kv.key, "does not parse; skipped until its replica writes it again");
    return std::nullopt;
  }
  return std::make_pair(kv.key.substr(kPrefixSize), std::move(state));
}

}  // namespace

SessionShare::SessionShare(storage::Store& store, AgentStateTracker& state, ReplicaLease& lease,
                           std::function<void(const std::string&)> on_taken_over, size_t batch)
    : store_(store),
      state_(state),
      lease_(lease),
      on_taken_over_(std::move(on_taken_over)),
      batch_(std::max<size_t>(batch, 1)) {}

SessionShare::~SessionShare() { Stop(); }

absl::Status SessionShare::Start(absl::Duration timeout) {
  reflector_ = std::make_unique<storage::Reflector>(
      store_, static_cast<storage::ReflectorHandler&>(*this),
      storage::ReflectorOptions{.name = "agent sessions", .prefix = layout::kSessions});
  if (!reflector_->WaitSynced(timeout)) {
    return absl::UnavailableError(absl::StrCat("the agents' sessions were not listed within ",
                                               absl::FormatDuration(timeout)));
  }
  return absl::OkStatus();
}

void SessionShare::Stop() { reflector_.reset(); }

bool SessionShare::synced() { return reflector_ != nullptr && reflector_->synced(); }

absl::Status SessionShare::Publish(
    const std::vector<std::pair<std::string, record::AgentStatusRecord>>& states) {
  const int64_t lease = lease_.lease();
  std::vector<storage::Op> puts;
  puts.reserve(states.size());
  for (const auto& [id, state] : states) {
    puts.push_back(
        storage::Op::PutWithLease(layout::SessionKey(id), state.SerializeAsString(), lease));
  }
  return storage::CommitInBatches(store_, std::move(puts), batch_);
}

void SessionShare::Replace(const std::vector<storage::KeyValue>& kvs, int64_t /*revision*/) {
  std::vector<std::pair<std::string, record::AgentStatusRecord>> states;
  states.reserve(kvs.size());
  for (const storage::KeyValue& kv : kvs) {
    if (auto parsed = Parse(kv); parsed.has_value()) states.push_back(*std::move(parsed));
  }
  for (const std::string& id : state_.ReplaceRemote(states)) on_taken_over_(id);
}

void SessionShare::Apply(const storage::WatchBatch& batch) {
  for (const storage::Event& event : batch.events) {
    if (event.type == storage::Event::Type::kDelete) {
      if (event.kv.key.size() > kPrefixSize) state_.RemoteGone(event.kv.key.substr(kPrefixSize));
      continue;
    }
    std::optional<std::pair<std::string, record::AgentStatusRecord>> parsed = Parse(event.kv);
    if (!parsed.has_value()) continue;
    if (state_.ApplyRemote(parsed->first, std::move(parsed->second))) {
      on_taken_over_(parsed->first);
    }
  }
}

}  // namespace fleet::server
