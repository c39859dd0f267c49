#include "storage/rocksdb/rocksdb_store.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/options_util.h"
#include "rocksdb/write_batch.h"
#include "storage/errors.h"
#include "storage/range_util.h"
#include "storage/rocksdb/record_codec.h"
#include "storage/txn_planner.h"
#include "storage/watch_hub.h"

namespace fleet::storage {
namespace {

constexpr char kKvFamily[] = "kv";
constexpr char kLogFamily[] = "log";
constexpr char kMetaFamily[] = "meta";
constexpr char kStateFamily[] = "state";
constexpr char kFormatKey[] = "format";
constexpr char kFormat[] = "fleetd-store/1";
constexpr char kRevisionKey[] = "revision";
constexpr char kCompactRevisionKey[] = "compact_revision";

// Bounds on one commit group: how many Txns and how many bytes of ops share one write.
constexpr size_t kMaxGroupTxns = 512;
constexpr size_t kMaxGroupBytes = 16 * 1024 * 1024;

absl::Status ToStatus(const rocksdb::Status& status, const std::string& context) {
  std::string message = absl::StrCat(context, ": ", status.ToString());
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsIOError() && status.subcode() == rocksdb::Status::kNoSpace) {
    return absl::ResourceExhaustedError(message);
  }
  if (status.IsIOError() || status.IsBusy() || status.IsTimedOut() || status.IsTryAgain()) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

size_t RequestBytes(const TxnRequest& request) {
  size_t bytes = 0;
  for (const auto* ops : {&request.success, &request.failure}) {
    for (const Op& op : *ops) bytes += op.key.size() + op.value.size();
  }
  return bytes;
}

class RocksDbStore final : public Store, private LogSource {
 public:
  RocksDbStore(std::string path, std::unique_ptr<rocksdb::DB> db,
               std::vector<rocksdb::ColumnFamilyHandle*> families, int64_t revision,
               int64_t compact_revision, const StoreOptions& options)
      : path_(std::move(path)),
        db_(std::move(db)),
        families_(std::move(families)),
        kv_(families_[1]),
        log_(families_[2]),
        meta_(families_[3]),
        state_(families_[4]),
        committed_revision_(revision),
        compact_revision_(compact_revision),
        hub_(*this, options.watch_buffer_bytes, revision) {}

  ~RocksDbStore() override {
    hub_.Close();
    for (rocksdb::ColumnFamilyHandle* family : families_) {
      db_->DestroyColumnFamilyHandle(family).PermitUncheckedError();
    }
    db_->Close().PermitUncheckedError();  // the WAL is synced on every write; nothing is lost
  }

  absl::StatusOr<std::optional<KeyValue>> Get(std::string_view key) override {
    return ReadKey(rocksdb::ReadOptions(), key);
  }

  absl::StatusOr<RangeResult> Range(const RangeRequest& request) override {
    absl::StatusOr<std::string> start = RangeStartKey(request);
    if (!start.ok()) return start.status();
    Snapshot snapshot(*db_);
    absl::StatusOr<int64_t> revision = ReadMetaNumber(snapshot.options(), kRevisionKey);
    if (!revision.ok()) return revision.status();
    RangeResult result;
    result.revision = *revision;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(snapshot.options(), kv_));
    for (it->Seek(*start); it->Valid() && it->key().starts_with(request.prefix); it->Next()) {
      if (RangePageFull(request, result)) break;
      absl::StatusOr<KeyValue> kv =
          DecodeKeyValue(it->key().ToStringView(), it->value().ToStringView());
      if (!kv.ok()) return kv.status();
      result.kvs.push_back(*std::move(kv));
    }
    if (!it->status().ok()) return ToStatus(it->status(), "range scan");
    return result;
  }

  absl::StatusOr<TxnResult> Txn(const TxnRequest& request) override {
    if (absl::Status status = ValidateTxn(request); !status.ok()) return status;
    Writer self{.request = &request, .bytes = RequestBytes(request)};
    queue_mu_.Lock();
    writers_.push_back(&self);
    while (!self.done && writers_.front() != &self) self.cv.Wait(&queue_mu_);
    if (self.done) {
      queue_mu_.Unlock();
      return std::move(self.result);
    }
    // This writer leads: it commits itself and the writers queued behind it as one group.
    std::vector<Writer*> group;
    size_t group_bytes = 0;
    for (Writer* writer : writers_) {
      if (!group.empty() &&
          (group.size() >= kMaxGroupTxns || group_bytes + writer->bytes > kMaxGroupBytes)) {
        break;
      }
      group.push_back(writer);
      group_bytes += writer->bytes;
    }
    queue_mu_.Unlock();
    CommitGroup(group);
    queue_mu_.Lock();
    for (size_t i = 0; i < group.size(); ++i) writers_.pop_front();
    // Wake the next leader before the finished writers: on few cores they would otherwise
    // compete with it for the CPU while it is on the critical path.
    if (!writers_.empty()) writers_.front()->cv.Signal();
    for (Writer* writer : group) {
      writer->done = true;
      if (writer != &self) writer->cv.Signal();
    }
    queue_mu_.Unlock();
    return std::move(self.result);
  }

  absl::StatusOr<std::unique_ptr<Watcher>> Watch(std::string_view prefix,
                                                 int64_t after_revision) override {
    if (after_revision < 0) {
      return absl::InvalidArgumentError("watch revision must not be negative");
    }
    int64_t compacted = compact_revision_.load();
    if (after_revision < compacted) return CompactedError(after_revision, compacted);
    return hub_.NewWatcher(std::string(prefix), after_revision);
  }

  absl::Status Compact(int64_t revision) override {
    absl::MutexLock lock(&compact_mu_);
    int64_t current = committed_revision_.load();
    if (revision > current) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot compact at ", revision, ": the current revision is ", current));
    }
    if (revision <= compact_revision_.load()) return absl::OkStatus();
    rocksdb::WriteBatch batch;
    rocksdb::Status status =
        batch.DeleteRange(log_, EncodeRevisionKey(0), EncodeRevisionKey(revision + 1));
    if (status.ok()) status = batch.Put(meta_, kCompactRevisionKey, absl::StrCat(revision));
    if (status.ok()) status = db_->Write(SyncWrite(), &batch);
    if (!status.ok()) return ToStatus(status, absl::StrCat("compacting ", path_));
    compact_revision_.store(revision);
    return absl::OkStatus();
  }

  int64_t CurrentRevision() override { return committed_revision_.load(); }

  absl::Status PutState(const std::vector<std::pair<std::string, std::string>>& puts,
                        const std::vector<std::string>& deletes) override {
    if (absl::Status s = ValidateStateWrite(puts, deletes); !s.ok()) return s;
    rocksdb::WriteBatch batch;
    rocksdb::Status status;
    for (const auto& [key, value] : puts) {
      if (status.ok()) status = batch.Put(state_, key, value);
    }
    for (const std::string& key : deletes) {
      if (status.ok()) status = batch.Delete(state_, key);
    }
    // Apart from the commit queue: state takes no revision, so it needs no ordering with Txns.
    if (status.ok()) status = db_->Write(SyncWrite(), &batch);
    return status.ok() ? absl::OkStatus()
                       : ToStatus(status, absl::StrCat("writing state to ", path_));
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RangeState(
      std::string_view prefix) override {
    std::vector<std::pair<std::string, std::string>> found;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), state_));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      found.emplace_back(it->key().ToString(), it->value().ToString());
    }
    if (!it->status().ok()) return ToStatus(it->status(), "reading state");
    return found;
  }
  int64_t CompactRevision() override { return compact_revision_.load(); }

 private:
  struct Writer {
    const TxnRequest* request;
    size_t bytes = 0;
    absl::StatusOr<TxnResult> result = absl::InternalError("the commit group did not run");
    bool done = false;  // guarded by queue_mu_
    absl::CondVar cv;
  };

  // A consistent read view, released on destruction.
  class Snapshot {
   public:
    explicit Snapshot(rocksdb::DB& db) : db_(db), snapshot_(db.GetSnapshot()) {
      options_.snapshot = snapshot_;
    }
    ~Snapshot() { db_.ReleaseSnapshot(snapshot_); }
    const rocksdb::ReadOptions& options() const { return options_; }

   private:
    rocksdb::DB& db_;
    const rocksdb::Snapshot* const snapshot_;
    rocksdb::ReadOptions options_;
  };

  // The committed state with the changes of the commit group so far laid over it, so that each
  // Txn of a group sees the ones before it.
  class GroupReader final : public KeyReader {
   public:
    explicit GroupReader(RocksDbStore& store) : store_(store) {}

    absl::StatusOr<std::optional<KeyValue>> Get(std::string_view key) override {
      auto it = overlay_.find(key);
      if (it != overlay_.end()) {
        if (it->second == nullptr) return std::nullopt;
        return *it->second;
      }
      return store_.ReadKey(rocksdb::ReadOptions(), key);
    }

    absl::StatusOr<std::vector<std::string>> KeysWithPrefix(std::string_view prefix) override {
      std::set<std::string, std::less<>> keys;
      std::unique_ptr<rocksdb::Iterator> it(
          store_.db_->NewIterator(rocksdb::ReadOptions(), store_.kv_));
      for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
        keys.insert(it->key().ToString());
      }
      if (!it->status().ok()) return ToStatus(it->status(), "prefix scan");
      for (auto o = overlay_.lower_bound(prefix);
           o != overlay_.end() && std::string_view(o->first).starts_with(prefix); ++o) {
        if (o->second != nullptr) {
          keys.insert(std::string(o->first));
        } else {
          keys.erase(std::string(o->first));
        }
      }
      return std::vector<std::string>(keys.begin(), keys.end());
    }

    // Calls fn(key, state) for every key the group changed, in key order, with its final state
    // (null when deleted).
    template <typename Fn>
    void ForEachChange(Fn fn) const {
      for (const auto& [key, kv] : overlay_) fn(key, kv);
    }

    // Lays `txn` over the state; it must outlive this reader.
    void Apply(const CommittedTxn& txn) {
      for (const Event& event : txn.events) {
        overlay_.insert_or_assign(event.kv.key,
                                  event.type == Event::Type::kPut ? &event.kv : nullptr);
      }
    }

   private:
    RocksDbStore& store_;
    // Keys and states point into the group's transactions; null marks a deleted key.
    std::map<std::string_view, const KeyValue*> overlay_;
  };

  static rocksdb::WriteOptions SyncWrite() {
    rocksdb::WriteOptions options;
    options.sync = true;
    return options;
  }

  absl::StatusOr<std::optional<KeyValue>> ReadKey(const rocksdb::ReadOptions& options,
                                                  std::string_view key) {
    std::string record;
    rocksdb::Status status = db_->Get(options, kv_, key, &record);
    if (status.IsNotFound()) return std::nullopt;
    if (!status.ok())
      return ToStatus(status, absl::StrCat("reading key \"", std::string(key), "\""));
    absl::StatusOr<KeyValue> kv = DecodeKeyValue(key, record);
    if (!kv.ok()) return kv.status();
    return *std::move(kv);
  }

  absl::StatusOr<int64_t> ReadMetaNumber(const rocksdb::ReadOptions& options,
                                         std::string_view key) {
    std::string value;
    rocksdb::Status status = db_->Get(options, meta_, key, &value);
    if (status.IsNotFound()) return 0;
    if (!status.ok()) return ToStatus(status, absl::StrCat("reading ", std::string(key)));
    int64_t number = 0;
    if (!absl::SimpleAtoi(value, &number)) {
      return absl::DataLossError(
          absl::StrCat("store metadata \"", std::string(key), "\" is not a number"));
    }
    return number;
  }

  // Runs on the group's leader only, so nothing else writes meanwhile. Sets every writer's
  // result; publishes the committed transactions to watchers in revision order.
  void CommitGroup(const std::vector<Writer*>& group) {
    int64_t revision = committed_revision_.load();
    GroupReader reader(*this);
    std::vector<CommittedTxnPtr> committed;
    std::vector<Writer*> pending;  // results that depend on the write succeeding
    const absl::Time now = absl::Now();
    for (Writer* writer : group) {
      absl::StatusOr<TxnPlan> plan = PlanTxn(*writer->request, revision + 1, reader);
      if (!plan.ok()) {
        writer->result = plan.status();
        continue;
      }
      pending.push_back(writer);
      if (plan->events.empty()) {
        writer->result = TxnResult{.succeeded = plan->succeeded, .revision = revision};
        continue;
      }
      auto txn = std::make_shared<CommittedTxn>();
      txn->revision = ++revision;
      txn->commit_time = now;
      txn->events = std::move(plan->events);
      reader.Apply(*txn);
      writer->result = TxnResult{.succeeded = plan->succeeded, .revision = revision};
      committed.push_back(std::move(txn));
    }
    if (committed.empty()) return;
    // Only the group's final state of each key goes to "kv" (the batch is atomic, so no one can
    // see the states in between), in key order, which keeps memtable inserts cheap; then one log
    // record per transaction, in revision order.
    rocksdb::WriteBatch batch;
    rocksdb::Status status;
    reader.ForEachChange([&](std::string_view key, const KeyValue* kv) {
      if (!status.ok()) return;
      status = kv != nullptr ? batch.Put(kv_, key, EncodeKeyValue(*kv)) : batch.Delete(kv_, key);
    });
    for (const CommittedTxnPtr& txn : committed) {
      if (!status.ok()) break;
      status = batch.Put(log_, EncodeRevisionKey(txn->revision), EncodeCommittedTxn(*txn));
    }
    if (status.ok()) status = batch.Put(meta_, kRevisionKey, absl::StrCat(revision));
    if (status.ok()) status = db_->Write(SyncWrite(), &batch);
    if (!status.ok()) {
      SetAll(pending, ToStatus(status, absl::StrCat("committing to ", path_)));
      return;
    }
    committed_revision_.store(revision);
    for (CommittedTxnPtr& txn : committed) hub_.Publish(std::move(txn));
  }

  static void SetAll(const std::vector<Writer*>& writers, const absl::Status& status) {
    for (Writer* writer : writers) writer->result = status;
  }

  absl::StatusOr<Page> ReadLog(int64_t after_revision, size_t max_bytes) override {
    Snapshot snapshot(*db_);
    absl::StatusOr<int64_t> compacted = ReadMetaNumber(snapshot.options(), kCompactRevisionKey);
    if (!compacted.ok()) return compacted.status();
    if (after_revision < *compacted) return CompactedError(after_revision, *compacted);
    absl::StatusOr<int64_t> current = ReadMetaNumber(snapshot.options(), kRevisionKey);
    if (!current.ok()) return current.status();
    Page page;
    page.scanned_through = *current;
    size_t bytes = 0;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(snapshot.options(), log_));
    for (it->Seek(EncodeRevisionKey(after_revision + 1)); it->Valid(); it->Next()) {
      if (!page.txns.empty() && bytes >= max_bytes) {
        page.scanned_through = page.txns.back()->revision;
        break;
      }
      absl::StatusOr<CommittedTxn> txn = DecodeCommittedTxn(it->value().ToStringView());
      if (!txn.ok()) return txn.status();
      bytes += WatchHub::ChargedBytes(*txn);
      page.txns.push_back(std::make_shared<const CommittedTxn>(*std::move(txn)));
    }
    if (!it->status().ok()) return ToStatus(it->status(), "reading the revision log");
    return page;
  }

  const std::string path_;
  const std::unique_ptr<rocksdb::DB> db_;
  const std::vector<rocksdb::ColumnFamilyHandle*> families_;  // owned; default, kv, log, meta,
                                                              // state
  rocksdb::ColumnFamilyHandle* const kv_;                     // not owned; in families_
  rocksdb::ColumnFamilyHandle* const log_;
  rocksdb::ColumnFamilyHandle* const meta_;
  rocksdb::ColumnFamilyHandle* const state_;

  absl::Mutex queue_mu_;
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(queue_mu_);
  absl::Mutex compact_mu_;  // one compaction at a time
  std::atomic<int64_t> committed_revision_;
  std::atomic<int64_t> compact_revision_;
  WatchHub hub_;
};

rocksdb::Options BaseOptions() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.create_missing_column_families = true;
  options.IncreaseParallelism(2);
  // Leave file descriptors for agent connections: the process limit is shared with them.
  options.max_open_files = 512;
  options.keep_log_file_num = 4;
  return options;
}

absl::Status CheckDirectory(const std::string& path, bool& fresh) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot create store directory ", path, ": ", error.message()));
  }
  bool empty = std::filesystem::is_empty(path, error);
  if (error) {
    return absl::UnavailableError(
        absl::StrCat("cannot read store directory ", path, ": ", error.message()));
  }
  bool has_current = std::filesystem::exists(std::filesystem::path(path) / "CURRENT", error);
  if (!empty && !has_current) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is not empty and holds no fleetd store; point fleetd at an empty or ",
                     "new directory, or at a directory it created"));
  }
  fresh = empty;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> OpenRocksDbStore(const std::string& path,
                                                        const StoreOptions& store_options) {
  bool fresh = false;
  if (absl::Status status = CheckDirectory(path, fresh); !status.ok()) return status;
  rocksdb::Options options = BaseOptions();
  const std::vector<std::string> wanted = {rocksdb::kDefaultColumnFamilyName, kKvFamily, kLogFamily,
                                           kMetaFamily, kStateFamily};
  if (!fresh) {
    std::vector<std::string> existing;
    rocksdb::Status status = rocksdb::DB::ListColumnFamilies(options, path, &existing);
    if (!status.ok()) return ToStatus(status, absl::StrCat("opening store ", path));
    // Ours has kv, log and meta, and nothing we do not know; a family added by a later version
    // of this store (state) is created when missing.
    const std::set<std::string> known(wanted.begin(), wanted.end());
    const std::set<std::string> found(existing.begin(), existing.end());
    if (!std::includes(known.begin(), known.end(), found.begin(), found.end()) ||
        !found.contains(kKvFamily) || !found.contains(kLogFamily) || !found.contains(kMetaFamily)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " holds a RocksDB database that is not a fleetd store"));
    }
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& name : wanted) {
    rocksdb::ColumnFamilyOptions family(options);
    if (name == kKvFamily) {
      // Every put first reads the key's current version; bloom filters (memtable and files)
      // answer the common "new key" case without searching.
      family.memtable_whole_key_filtering = true;
      family.memtable_prefix_bloom_size_ratio = 0.05;
      rocksdb::BlockBasedTableOptions table;
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
      family.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    }
    descriptors.emplace_back(name, family);
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(options, path, descriptors, &handles, &raw);
  if (!status.ok()) {
    if (status.IsIOError() && status.ToString().find("lock") != std::string::npos) {
      return absl::FailedPreconditionError(
          absl::StrCat("store ", path, " is in use by another process: ", status.ToString()));
    }
    return ToStatus(status, absl::StrCat("opening store ", path));
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  auto close = [&](absl::Status error) {
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      db->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    }
    return error;
  };
  rocksdb::ColumnFamilyHandle* meta = handles[3];
  std::string format;
  status = db->Get(rocksdb::ReadOptions(), meta, kFormatKey, &format);
  if (status.IsNotFound() && !fresh) {
    // A first start killed between creating the database and writing the marker leaves our
    // column families and nothing else: no transaction ever committed. Finish creating it.
    std::string revision;
    rocksdb::Status committed = db->Get(rocksdb::ReadOptions(), meta, kRevisionKey, &revision);
    if (committed.IsNotFound()) fresh = true;
  }
  if (status.IsNotFound() && fresh) {
    rocksdb::WriteOptions sync;
    sync.sync = true;
    status = db->Put(sync, meta, kFormatKey, kFormat);
    format = kFormat;
  }
  if (!status.ok() && !status.IsNotFound()) {
    return close(ToStatus(status, absl::StrCat("reading store format of ", path)));
  }
  if (format.empty()) {
    return close(absl::FailedPreconditionError(
        absl::StrCat(path, " holds a RocksDB database without a fleetd format marker")));
  }
  if (format != kFormat) {
    return close(absl::FailedPreconditionError(absl::StrCat(
        path, " holds store format \"", format, "\"; this fleetd reads \"", kFormat, "\"")));
  }
  int64_t numbers[2] = {0, 0};
  const char* keys[2] = {kRevisionKey, kCompactRevisionKey};
  for (int i = 0; i < 2; ++i) {
    std::string value;
    status = db->Get(rocksdb::ReadOptions(), meta, keys[i], &value);
    if (status.IsNotFound()) continue;
    if (!status.ok()) return close(ToStatus(status, absl::StrCat("reading ", keys[i])));
    if (!absl::SimpleAtoi(value, &numbers[i])) {
      return close(absl::DataLossError(
          absl::StrCat("store ", path, ": metadata \"", keys[i], "\" is not a number")));
    }
  }
  return std::make_unique<RocksDbStore>(path, std::move(db), std::move(handles), numbers[0],
                                        numbers[1], store_options);
}

}  // namespace fleet::storage
