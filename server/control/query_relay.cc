#include "server/control/query_relay.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log_fields.h"
#include "server/control/query_rows.h"
#include "server/model/record_repair.h"
#include "server/model/records.pb.h"
#include "server/model/store_layout.h"
#include "spdlog/spdlog.h"
#include "storage/txn_batches.h"

namespace fleet::server {
namespace {

// Transactions of at most this many ops (under etcd's default --max-txn-ops of 128).
constexpr size_t kOpsPerTxn = 100;
// An ask's part at most this large where the store sets no bound of its own.
constexpr size_t kMaxAskPartBytes = size_t{1} << 20;

// Room left in a write of answers for its key and framing.
constexpr size_t kResultKeyRoom = 1024;
// What one agent's answer adds to a batch beyond itself: its field's tag and length.
constexpr size_t kRowsOverhead = 6;

// `rows` as pieces of at most about `most_bytes` each: itself when it fits, else its rows split
// into several results of the same agent, the last of them carrying its error, truncation,
// duration and last flag.
std::vector<v1::QueryRows> InPieces(v1::QueryRows rows, size_t most_bytes) {
  std::vector<v1::QueryRows> pieces;
  if (rows.ByteSizeLong() <= most_bytes) {
    pieces.push_back(std::move(rows));
    return pieces;
  }
  std::string rows_json = std::move(*rows.mutable_rows_json());
  rows.clear_rows_json();
  const size_t frame = rows.ByteSizeLong() + kRowsOverhead;
  std::vector<std::string> arrays =
      SplitRows(rows_json, most_bytes - std::min(most_bytes / 2, frame));
  for (size_t i = 0; i + 1 < arrays.size(); ++i) {
    v1::QueryRows& piece = pieces.emplace_back();
    piece.set_agent_id(rows.agent_id());
    piece.set_hostname(rows.hostname());
    piece.set_rows_json(std::move(arrays[i]));
  }
  rows.set_rows_json(std::move(arrays.back()));
  pieces.push_back(std::move(rows));
  return pieces;
}

void LogStoreError(const char* op, const absl::Status& status) {
  LogEvent(spdlog::level::warn, "store error",
           {{"op", op}, {"error", std::string(status.message())}});
}

}  // namespace

QueryRelay::QueryRelay(storage::Store& store, QueryRouter& router, ReplicaLease& lease)
    : store_(store), router_(router), lease_(lease) {}

QueryRelay::~QueryRelay() { Stop(); }

absl::Status QueryRelay::Start(absl::Duration timeout) {
  results_reflector_ = std::make_unique<storage::Reflector>(
      store_, results_,
      storage::ReflectorOptions{.name = "query results", .prefix = layout::kQueryResults});
  asks_reflector_ = std::make_unique<storage::Reflector>(
      store_, asks_, storage::ReflectorOptions{.name = "query asks", .prefix = layout::kQueryAsks});
  if (!results_reflector_->WaitSynced(timeout) || !asks_reflector_->WaitSynced(timeout)) {
    return absl::UnavailableError(
        absl::StrCat("the live queries of other replicas were not listed within ",
                     absl::FormatDuration(timeout)));
  }
  return absl::OkStatus();
}

void QueryRelay::Stop() {
  asks_reflector_.reset();
  results_reflector_.reset();
  std::vector<std::string> asked;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, entry] : asked_) asked.push_back(id);
  }
  for (const std::string& id : asked) StopAsked(id);
}

bool QueryRelay::synced() {
  return asks_reflector_ != nullptr && results_reflector_ != nullptr && asks_reflector_->synced() &&
         results_reflector_->synced();
}

absl::Status QueryRelay::Forward(
    const std::string& query_id, const QueryRequest& request,
    const std::map<std::string, std::vector<std::string>>& by_replica) {
  {
    absl::MutexLock lock(&mu_);
    forwarded_.try_emplace(query_id);
  }
  record::QueryAsk ask;
  ask.set_origin(lease_.id());
  ask.set_text(request.text);
  ask.set_deadline_unix_micros(absl::ToUnixMicros(request.deadline));
  const size_t most_bytes = std::min(store_.MaxTxnBytes(), kMaxAskPartBytes);
  std::vector<storage::Op> puts;
  for (const auto& [replica, agent_ids] : by_replica) {
    AppendAskParts(query_id, replica, ask, agent_ids, most_bytes, lease_.lease(), puts);
  }
  return storage::CommitInBatches(store_, std::move(puts), kOpsPerTxn);
}

void QueryRelay::Forget(const std::string& query_id) {
  {
    absl::MutexLock lock(&mu_);
    forwarded_.erase(query_id);
  }
  absl::Status status =
      store_
          .Txn({.success = {storage::Op::DeletePrefix(layout::QueryAskPrefix(query_id)),
                            storage::Op::DeletePrefix(layout::QueryResultPrefix(query_id))}})
          .status();
  // Left behind, they go with this replica's lease.
  if (!status.ok()) LogStoreError("delete a forwarded live query", status);
}

void QueryRelay::Asks::Replace(const std::vector<storage::KeyValue>& kvs, int64_t) {
  absl::flat_hash_set<std::string> listed;
  for (const storage::KeyValue& kv : kvs) {
    std::optional<AskKey> key = AskKey::Parse(kv.key);
    if (!key.has_value() || key->replica != relay_.lease_.id()) continue;
    listed.insert(key->name());
    relay_.StartAsked(*key, kv);
  }
  std::vector<std::string> gone;
  {
    absl::MutexLock lock(&relay_.mu_);
    for (const auto& [name, entry] : relay_.asked_) {
      if (!listed.contains(name)) gone.push_back(name);
    }
  }
  for (const std::string& name : gone) relay_.StopAsked(name);
}

void QueryRelay::Asks::Apply(const storage::WatchBatch& batch) {
  for (const storage::Event& event : batch.events) {
    std::optional<AskKey> key = AskKey::Parse(event.kv.key);
    if (!key.has_value() || key->replica != relay_.lease_.id()) continue;
    if (event.type == storage::Event::Type::kDelete) {
      relay_.StopAsked(key->name());
    } else {
      relay_.StartAsked(*key, event.kv);
    }
  }
}

void QueryRelay::StartAsked(const AskKey& key, const storage::KeyValue& kv) {
  const std::string name = key.name();
  {
    absl::MutexLock lock(&mu_);
    if (asked_.contains(name)) return;
  }
  record::QueryAsk ask;
  if (!ParseRecordRepairingUtf8(kv.value, ask, nullptr)) {
    LogRecordProblemOnce(kv.key, "does not parse; the query's agents here are not asked");
    return;
  }
  QueryRequest request{.text = ask.text(),
                       .deadline = absl::FromUnixMicros(ask.deadline_unix_micros()),
                       .forward = false};
  for (const std::string& id : ask.agent_ids()) request.targets.push_back({.agent_id = id});
  absl::StatusOr<std::unique_ptr<RunningQuery>> query = router_.Start(std::move(request));
  if (!query.ok()) {
    // The asking replica sees these agents time out.
    LogEvent(spdlog::level::warn, "live query not forwarded",
             {{"query", key.query_id}, {"error", std::string(query.status().message())}});
    return;
  }
  auto asked = std::make_unique<Asked>();
  asked->key = key;
  asked->query = *std::move(query);
  Asked* const raw = asked.get();
  raw->pump = std::thread([this, raw] { Pump(*raw); });
  absl::MutexLock lock(&mu_);
  asked_.emplace(name, std::move(asked));
}

void QueryRelay::StopAsked(const std::string& name) {
  std::unique_ptr<Asked> asked;
  {
    absl::MutexLock lock(&mu_);
    auto it = asked_.find(name);
    if (it == asked_.end()) return;
    asked = std::move(it->second);
    asked_.erase(it);
  }
  asked->stop.store(true);
  asked->pump.join();
  absl::Status status =
      store_
          .Txn({.success = {storage::Op::DeletePrefix(layout::QueryPartResultPrefix(
                    asked->key.query_id, lease_.id(), asked->key.part))}})
          .status();
  if (!status.ok()) LogStoreError("delete a forwarded live query's answers", status);
}

void QueryRelay::Pump(Asked& asked) {
  const std::string prefix =
      layout::QueryPartResultPrefix(asked.key.query_id, lease_.id(), asked.key.part);
  // Batches no larger than one write of the store takes, with room for the key.
  const size_t txn_bytes = store_.MaxTxnBytes();
  const size_t most_bytes =
      std::min<size_t>(kRelayBatchBytes, txn_bytes - std::min(txn_bytes / 2, kResultKeyRoom));
  int64_t seq = 0;
  record::QueryResultBatch batch;
  size_t bytes = 0;
  absl::Time first = absl::InfiniteFuture();  // when the oldest answer in `batch` came
  auto write = [&] {
    if (batch.rows().empty()) return;
    absl::Status status =
        store_
            .Txn(
                {.success = {storage::Op::PutWithLease(absl::StrFormat("%s%08d", prefix, seq++),
                                                       batch.SerializeAsString(), lease_.lease())}})
            .status();
    // The asking replica sees these agents time out.
    if (!status.ok()) LogStoreError("write a forwarded live query's answers", status);
    batch.Clear();
    bytes = 0;
    first = absl::InfiniteFuture();
  };
  bool ended = false;
  while (!ended && !asked.stop.load()) {
    RunningQuery::Taken taken = asked.query->Take(kRelayFlush, static_cast<int64_t>(most_bytes));
    for (v1::QueryRows& rows : taken.rows) {
      for (v1::QueryRows& piece : InPieces(std::move(rows), most_bytes)) {
        const size_t size = piece.ByteSizeLong() + kRowsOverhead;
        if (bytes + size > most_bytes) write();
        bytes += size;
        *batch.add_rows() = std::move(piece);
        first = std::min(first, absl::Now());
      }
    }
    ended = taken.ended;
    if (ended || bytes >= most_bytes || absl::Now() - first >= kRelayFlush) write();
  }
  asked.query.reset();  // ends the query here: its mail leaves the mailbox
}

void QueryRelay::Results::Replace(const std::vector<storage::KeyValue>& kvs, int64_t) {
  for (const storage::KeyValue& kv : kvs) relay_.TakeResults(kv);
}

void QueryRelay::Results::Apply(const storage::WatchBatch& batch) {
  for (const storage::Event& event : batch.events) {
    if (event.type == storage::Event::Type::kPut) relay_.TakeResults(event.kv);
  }
}

void QueryRelay::TakeResults(const storage::KeyValue& kv) {
  const std::string rest = kv.key.substr(sizeof(layout::kQueryResults) - 1);
  const std::string query_id = rest.substr(0, rest.find('/'));
  {
    absl::MutexLock lock(&mu_);
    auto it = forwarded_.find(query_id);
    if (it == forwarded_.end() || !it->second.insert(kv.key).second) return;
  }
  record::QueryResultBatch batch;
  if (!ParseRecordRepairingUtf8(kv.value, batch, nullptr)) {
    LogRecordProblemOnce(kv.key, "does not parse; those answers are lost");
    return;
  }
  for (const v1::QueryRows& rows : batch.rows()) {
    v1::QueryResult result;
    result.set_id(query_id);
    result.set_rows_json(rows.rows_json());
    result.set_error(rows.error());
    result.set_truncated(rows.truncated());
    *result.mutable_duration() = rows.duration();
    result.set_last(rows.last());
    router_.QueryResultReported(rows.agent_id(), result);
  }
}

}  // namespace fleet::server
