#include "server/control/action_results.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log_fields.h"
#include "server/model/record_repair.h"
#include "server/model/store_layout.h"
#include "spdlog/spdlog.h"

namespace fleet::server {

namespace {

// Every result key with its value: the unlogged state, or the revisioned keys of a shared store.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ReadResults(
    storage::Store& store) {
  if (!store.Shared()) return store.RangeState(layout::kActionResults);
  std::vector<std::pair<std::string, std::string>> found;
  storage::RangeRequest page{.prefix = layout::kActionResults, .limit = 1000};
  do {
    absl::StatusOr<storage::RangeResult> result = store.Range(page);
    if (!result.ok()) return result.status();
    for (storage::KeyValue& kv : result->kvs) {
      found.emplace_back(std::move(kv.key), std::move(kv.value));
    }
    page.continuation = result->continuation;
  } while (!page.continuation.empty());
  return found;
}

}  // namespace

absl::StatusOr<StoredActionResults> LoadActionResults(storage::Store& store) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> range = ReadResults(store);
  if (!range.ok()) return range.status();
  StoredActionResults results;
  for (const auto& [key, value] : *range) {
    std::optional<StoredResult> stored =
        ParseStoredResult(key, value, "the target counts as pending");
    if (stored.has_value()) {
      results[stored->action_id][stored->agent_id] = std::move(stored->result);
    }
  }
  return results;
}

std::optional<StoredResult> ParseStoredResult(const std::string& key, const std::string& value,
                                              std::string_view what_then) {
  constexpr size_t kPrefix = sizeof(layout::kActionResults) - 1;
  if (!key.starts_with(layout::kActionResults)) return std::nullopt;
  const size_t slash = key.find('/', kPrefix);
  if (slash == std::string::npos) return std::nullopt;
  StoredResult stored{.action_id = key.substr(kPrefix, slash - kPrefix),
                      .agent_id = key.substr(slash + 1)};
  if (!ParseRecordRepairingUtf8(value, stored.result, nullptr, /*try_plain_first=*/true)) {
    LogRecordProblemOnce(key, "does not parse; " + std::string(what_then));
    return std::nullopt;
  }
  return stored;
}

ActionResultWriter::ActionResultWriter(storage::Store& store, absl::Duration flush_interval,
                                       absl::Duration unsettled_hold)
    : store_(store),
      flush_interval_(flush_interval),
      unsettled_hold_(unsettled_hold),
      flusher_([this] { Run(); }) {}

ActionResultWriter::~ActionResultWriter() { Stop(); }

void ActionResultWriter::Put(const std::string& action_id, const std::string& agent_id,
                             const record::ActionResultRecord& result, bool settled) {
  std::string key = layout::ActionResultKey(action_id, agent_id);
  std::string value = result.SerializeAsString();
  const absl::Time due = settled ? absl::InfinitePast() : absl::Now() + unsettled_hold_;
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(key);
  if (it == pending_.end()) {
    pending_.emplace(std::move(key), Waiting{std::move(value), due});
    return;
  }
  it->second.value = std::move(value);
  // Never later than what it replaces: a target that keeps reporting is still written.
  it->second.due = std::min(it->second.due, due);
}

size_t ActionResultWriter::pending() {
  absl::MutexLock lock(&mu_);
  return pending_.size();
}

absl::Status ActionResultWriter::Write(absl::Time now) {
  absl::MutexLock flush_lock(&flush_mu_);
  std::vector<std::pair<std::string, std::string>> taken;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->second.due > now) {
        ++it;
        continue;
      }
      taken.emplace_back(it->first, std::move(it->second.value));
      pending_.erase(it++);
    }
  }
  absl::Status status;
  std::vector<std::pair<std::string, std::string>> batch;
  batch.reserve(std::min(taken.size(), kMaxResultsPerPut));
  std::vector<std::pair<std::string, std::string>> failed;
  const bool shared = store_.Shared();
  const size_t per_write =
      shared ? std::min(kSharedResultsPerTxn, store_.MaxTxnOps()) : kMaxResultsPerPut;
  const size_t bytes_per_write = shared ? store_.MaxTxnBytes() : SIZE_MAX;
  size_t batch_bytes = 0;
  auto commit = [&] {
    if (batch.empty()) return;
    if (status.ok() && shared) {
      storage::TxnRequest txn;
      for (const auto& [key, value] : batch) txn.success.push_back(storage::Op::Put(key, value));
      status = store_.Txn(txn).status();
    } else if (status.ok()) {
      status = store_.PutState(batch, {});
    }
    if (!status.ok()) {
      for (auto& put : batch) failed.push_back(std::move(put));
    }
    batch.clear();
    batch_bytes = 0;
  };
  for (auto& [key, value] : taken) {
    const size_t bytes = key.size() + value.size();
    if (!batch.empty() && batch_bytes + bytes > bytes_per_write) commit();
    batch_bytes += bytes;
    batch.emplace_back(key, std::move(value));
    if (batch.size() >= per_write) commit();
  }
  commit();
  if (!failed.empty()) {
    absl::MutexLock lock(&mu_);
    // A newer result put meanwhile wins over the one that failed.
    for (auto& [key, value] : failed) {
      pending_.try_emplace(std::move(key), Waiting{std::move(value), absl::InfinitePast()});
    }
  }
  return status;
}

void ActionResultWriter::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  flusher_.join();
  if (absl::Status flushed = Flush(); !flushed.ok()) {
    const std::string error(flushed.message());
    LogEvent(spdlog::level::warn, "store error",
             {{"op", "flush action results at stop"}, {"error", error}});
  }
}

void ActionResultWriter::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    auto stopping = [this] {
      mu_.AssertHeld();
      return stopping_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), flush_interval_);
    if (stopping_) break;
    if (pending_.empty()) continue;
    mu_.Unlock();
    // Retried with the next interval; meanwhile the stored results lag the agents'.
    if (absl::Status flushed = Write(absl::Now()); !flushed.ok()) {
      const std::string error(flushed.message());
      LogEvent(spdlog::level::warn, "store error",
               {{"op", "flush action results"}, {"error", error}});
    }
    mu_.Lock();
  }
}

}  // namespace fleet::server
