#include "storage/memory_store.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "storage/errors.h"
#include "storage/range_util.h"
#include "storage/txn_planner.h"
#include "storage/watch_hub.h"

namespace fleet::storage {
namespace {

class MemoryStore final : public Store, private LogSource {
 public:
  explicit MemoryStore(const StoreOptions& options) : hub_(*this, options.watch_buffer_bytes, 0) {}

  ~MemoryStore() override { hub_.Close(); }

  absl::StatusOr<std::optional<KeyValue>> Get(std::string_view key) override {
    absl::ReaderMutexLock lock(&mu_);
    auto it = keys_.find(key);
    if (it == keys_.end()) return std::nullopt;
    return it->second;
  }

  absl::StatusOr<RangeResult> Range(const RangeRequest& request) override {
    absl::StatusOr<std::string> start = RangeStartKey(request);
    if (!start.ok()) return start.status();
    absl::ReaderMutexLock lock(&mu_);
    RangeResult result;
    result.revision = revision_;
    for (auto it = keys_.lower_bound(*start);
         it != keys_.end() && std::string_view(it->first).starts_with(request.prefix); ++it) {
      if (RangePageFull(request, result)) break;
      result.kvs.push_back(it->second);
    }
    return result;
  }

  absl::StatusOr<TxnResult> Txn(const TxnRequest& request) override {
    if (absl::Status status = ValidateTxn(request); !status.ok()) return status;
    absl::MutexLock lock(&mu_);
    Reader reader(*this);
    absl::StatusOr<TxnPlan> plan = PlanTxn(request, revision_ + 1, reader);
    if (!plan.ok()) return plan.status();
    if (plan->events.empty()) return TxnResult{.succeeded = plan->succeeded, .revision = revision_};
    auto txn = std::make_shared<CommittedTxn>();
    txn->revision = ++revision_;
    txn->commit_time = absl::Now();
    txn->events = std::move(plan->events);
    for (const Event& event : txn->events) {
      if (event.type == Event::Type::kPut) {
        keys_.insert_or_assign(event.kv.key, event.kv);
      } else {
        keys_.erase(event.kv.key);
      }
    }
    log_.emplace(txn->revision, txn);
    hub_.Publish(txn);
    return TxnResult{.succeeded = plan->succeeded, .revision = revision_};
  }

  absl::StatusOr<std::unique_ptr<Watcher>> Watch(std::string_view prefix,
                                                 int64_t after_revision) override {
    if (after_revision < 0) {
      return absl::InvalidArgumentError("watch revision must not be negative");
    }
    {
      absl::ReaderMutexLock lock(&mu_);
      if (after_revision < compact_revision_) {
        return CompactedError(after_revision, compact_revision_);
      }
    }
    return hub_.NewWatcher(std::string(prefix), after_revision);
  }

  absl::Status Compact(int64_t revision) override {
    absl::MutexLock lock(&mu_);
    if (revision > revision_) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot compact at ", revision, ": the current revision is ", revision_));
    }
    if (revision <= compact_revision_) return absl::OkStatus();
    log_.erase(log_.begin(), log_.upper_bound(revision));
    compact_revision_ = revision;
    return absl::OkStatus();
  }

  int64_t CurrentRevision() override {
    absl::ReaderMutexLock lock(&mu_);
    return revision_;
  }

  int64_t CompactRevision() override {
    absl::ReaderMutexLock lock(&mu_);
    return compact_revision_;
  }

  absl::Status PutState(const std::vector<std::pair<std::string, std::string>>& puts,
                        const std::vector<std::string>& deletes) override {
    if (absl::Status s = ValidateStateWrite(puts, deletes); !s.ok()) return s;
    absl::MutexLock lock(&mu_);
    for (const auto& [key, value] : puts) state_.insert_or_assign(key, value);
    for (const std::string& key : deletes) state_.erase(key);
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RangeState(
      std::string_view prefix) override {
    absl::ReaderMutexLock lock(&mu_);
    std::vector<std::pair<std::string, std::string>> found;
    for (auto it = state_.lower_bound(prefix);
         it != state_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
      found.emplace_back(it->first, it->second);
    }
    return found;
  }

 private:
  // Reads the committed state; used by PlanTxn with mu_ held.
  class Reader final : public KeyReader {
   public:
    explicit Reader(MemoryStore& store) : store_(store) {}
    absl::StatusOr<std::optional<KeyValue>> Get(std::string_view key) override {
      store_.mu_.AssertReaderHeld();
      auto it = store_.keys_.find(key);
      if (it == store_.keys_.end()) return std::nullopt;
      return it->second;
    }
    absl::StatusOr<std::vector<std::string>> KeysWithPrefix(std::string_view prefix) override {
      store_.mu_.AssertReaderHeld();
      std::vector<std::string> keys;
      for (auto it = store_.keys_.lower_bound(prefix);
           it != store_.keys_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
        keys.push_back(it->first);
      }
      return keys;
    }

   private:
    MemoryStore& store_;
  };

  absl::StatusOr<Page> ReadLog(int64_t after_revision, size_t max_bytes) override {
    absl::ReaderMutexLock lock(&mu_);
    if (after_revision < compact_revision_) {
      return CompactedError(after_revision, compact_revision_);
    }
    Page page;
    page.scanned_through = revision_;
    size_t bytes = 0;
    for (auto it = log_.upper_bound(after_revision); it != log_.end(); ++it) {
      if (!page.txns.empty() && bytes >= max_bytes) {
        page.scanned_through = page.txns.back()->revision;
        break;
      }
      bytes += WatchHub::ChargedBytes(*it->second);
      page.txns.push_back(it->second);
    }
    return page;
  }

  absl::Mutex mu_;
  std::map<std::string, KeyValue, std::less<>> keys_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, CommittedTxnPtr> log_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string, std::less<>> state_ ABSL_GUARDED_BY(mu_);
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t compact_revision_ ABSL_GUARDED_BY(mu_) = 0;
  WatchHub hub_;
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore(const StoreOptions& options) {
  return std::make_unique<MemoryStore>(options);
}

}  // namespace fleet::storage
