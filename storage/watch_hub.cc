#include "storage/watch_hub.h"

#include <algorithm>
#include <deque>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"

namespace fleet::storage {
namespace {

// How much one catch-up read takes from the log.
constexpr size_t kCatchUpReadBytes = 4 * 1024 * 1024;

class WatcherImpl;

}  // namespace

struct WatchHub::Core {
  Core(LogSource* log_source, size_t bytes, int64_t revision)
      : buffer_bytes(bytes), log(log_source), published_revision(revision) {}

  const size_t buffer_bytes;
  absl::Mutex mu;
  absl::CondVar reads_done;
  LogSource* log ABSL_GUARDED_BY(mu);  // not owned; null once the hub is closed
  int active_reads ABSL_GUARDED_BY(mu) = 0;
  int64_t published_revision ABSL_GUARDED_BY(mu);
  std::set<WatcherImpl*> live ABSL_GUARDED_BY(mu);
};

namespace {

class WatcherImpl final : public Watcher {
 public:
  WatcherImpl(std::shared_ptr<WatchHub::Core> core, std::string prefix, int64_t after_revision)
      : core_(std::move(core)), prefix_(std::move(prefix)), position_(after_revision) {}

  ~WatcherImpl() override {
    absl::MutexLock lock(&core_->mu);
    core_->live.erase(this);
  }

  absl::StatusOr<WatchBatch> Next(absl::Duration timeout) override {
    const absl::Time deadline = absl::Now() + timeout;
    absl::MutexLock lock(&core_->mu);
    const int64_t reported = position_;
    while (true) {
      if (done_) return error_;
      if (core_->log == nullptr) {
        Finish(absl::CancelledError("the store was closed"));
        continue;
      }
      if (live_) {
        if (!buffer_.empty()) return DrainBuffer();
        // Only while still live: an overflow during the wait sent the watcher back to the log,
        // and buffer_tail_ then names transactions it has not delivered.
        const bool timed_out = cv_.WaitWithDeadline(&core_->mu, deadline);
        // A timeout, or a commit outside the prefix: how far the watch has come, so that a
        // caller waiting for a revision need not wait out the timeout.
        if (live_ && buffer_.empty() && !done_ && (timed_out || buffer_tail_ > position_)) {
          return WatchBatch{.revision = position_ = buffer_tail_};
        }
        continue;
      }
      absl::StatusOr<WatchBatch> batch = CatchUp();
      if (!batch.ok()) {
        Finish(batch.status());
        continue;
      }
      // Progress through commits outside the prefix is reported as the live path reports it.
      if (!batch->events.empty() || batch->revision > reported || absl::Now() >= deadline) {
        return batch;
      }
    }
  }

  void Cancel() override {
    absl::MutexLock lock(&core_->mu);
    Finish(absl::CancelledError("the watch was cancelled"));
  }

  // The hub's mutex, which guards this watcher's state too.
  absl::Mutex& mu() const ABSL_LOCK_RETURNED(core_->mu) { return core_->mu; }

  // Called by Publish for live watchers.
  void Append(const CommittedTxnPtr& txn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_->mu) {
    if (txn->revision <= buffer_tail_) return;
    buffer_tail_ = txn->revision;
    if (!Matches(*txn)) {
      cv_.Signal();
      return;
    }
    buffered_bytes_ += WatchHub::ChargedBytes(*txn);
    if (buffered_bytes_ > core_->buffer_bytes) {
      // Too slow to keep up live: fall back to the log from the last delivered revision.
      buffer_.clear();
      buffered_bytes_ = 0;
      live_ = false;
      core_->live.erase(this);
    } else {
      buffer_.push_back(txn);
    }
    cv_.Signal();
  }

  // Ends the watch with `status`.
  void Finish(absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_->mu) {
    if (done_) return;
    done_ = true;
    error_ = std::move(status);
    live_ = false;
    buffer_.clear();
    core_->live.erase(this);
    cv_.Signal();
  }

 private:
  bool Matches(const CommittedTxn& txn) const {
    if (prefix_.empty()) return true;
    for (const Event& event : txn.events) {
      if (std::string_view(event.kv.key).starts_with(prefix_)) return true;
    }
    return false;
  }

  void AppendMatching(const CommittedTxn& txn, std::vector<Event>& out) const {
    for (const Event& event : txn.events) {
      if (std::string_view(event.kv.key).starts_with(prefix_)) out.push_back(event);
    }
  }

  WatchBatch DrainBuffer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_->mu) {
    WatchBatch batch;
    for (const CommittedTxnPtr& txn : buffer_) AppendMatching(*txn, batch.events);
    buffer_.clear();
    buffered_bytes_ = 0;
    batch.revision = position_ = buffer_tail_;
    return batch;
  }

  // Reads one page of the log after position_ (without holding the lock during the read) and
  // turns live when the page reaches the newest published revision.
  absl::StatusOr<WatchBatch> CatchUp() ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_->mu) {
    LogSource* log = core_->log;
    const int64_t after = position_;
    ++core_->active_reads;
    core_->mu.Unlock();
    absl::StatusOr<LogSource::Page> page = log->ReadLog(after, kCatchUpReadBytes);
    core_->mu.Lock();
    if (--core_->active_reads == 0) core_->reads_done.SignalAll();
    if (done_) return error_;
    if (!page.ok()) return page.status();
    WatchBatch batch;
    for (const CommittedTxnPtr& txn : page->txns) AppendMatching(*txn, batch.events);
    // A watch may start after a revision the store has not reached yet: never move back.
    batch.revision = position_ = std::max(position_, page->scanned_through);
    if (position_ >= core_->published_revision && core_->log != nullptr) {
      live_ = true;
      buffer_tail_ = position_;
      core_->live.insert(this);
    }
    return batch;
  }

  const std::shared_ptr<WatchHub::Core> core_;
  const std::string prefix_;
  absl::CondVar cv_;
  bool done_ ABSL_GUARDED_BY(core_->mu) = false;
  absl::Status error_ ABSL_GUARDED_BY(core_->mu);
  bool live_ ABSL_GUARDED_BY(core_->mu) = false;
  // The revision up to which the consumer has everything.
  int64_t position_ ABSL_GUARDED_BY(core_->mu);
  // Live mode: the newest revision Publish has handed over (buffered or not matching).
  int64_t buffer_tail_ ABSL_GUARDED_BY(core_->mu) = 0;
  std::deque<CommittedTxnPtr> buffer_ ABSL_GUARDED_BY(core_->mu);
  size_t buffered_bytes_ ABSL_GUARDED_BY(core_->mu) = 0;
};

}  // namespace

WatchHub::WatchHub(LogSource& log, size_t watcher_buffer_bytes, int64_t published_revision)
    : core_(std::make_shared<Core>(&log, watcher_buffer_bytes, published_revision)) {}

WatchHub::~WatchHub() { Close(); }

std::unique_ptr<Watcher> WatchHub::NewWatcher(std::string prefix, int64_t after_revision) {
  return std::make_unique<WatcherImpl>(core_, std::move(prefix), after_revision);
}

void WatchHub::Publish(CommittedTxnPtr txn) {
  absl::MutexLock lock(&core_->mu);
  core_->published_revision = txn->revision;
  // Append may remove a watcher from `live`; iterate over a snapshot.
  std::vector<WatcherImpl*> live(core_->live.begin(), core_->live.end());
  for (WatcherImpl* watcher : live) {
    watcher->mu().AssertHeld();  // the watcher's core is this hub's core
    watcher->Append(txn);
  }
}

void WatchHub::Close() {
  absl::MutexLock lock(&core_->mu);
  core_->log = nullptr;
  std::vector<WatcherImpl*> live(core_->live.begin(), core_->live.end());
  for (WatcherImpl* watcher : live) {
    watcher->mu().AssertHeld();
    watcher->Finish(absl::CancelledError("the store was closed"));
  }
  while (core_->active_reads > 0) core_->reads_done.Wait(&core_->mu);
}

size_t WatchHub::ChargedBytes(const CommittedTxn& txn) {
  size_t bytes = sizeof(CommittedTxn);
  for (const Event& event : txn.events) {
    bytes += sizeof(Event) + event.kv.key.size() + event.kv.value.size();
  }
  return bytes;
}

}  // namespace fleet::storage
