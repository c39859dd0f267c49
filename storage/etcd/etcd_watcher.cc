#include "storage/etcd/etcd_watcher.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "storage/errors.h"

namespace fleet::storage::etcd {
namespace {

// How often a waiting Next looks whether the store was closed.
constexpr absl::Duration kClosedPoll = absl::Milliseconds(100);
// A pause before watching again after every member failed a stream in turn.
constexpr absl::Duration kStreamRoundPause = absl::Milliseconds(200);

void RaiseTo(std::atomic<int64_t>& value, int64_t to) {
  int64_t seen = value.load();
  while (seen < to && !value.compare_exchange_weak(seen, to)) {
  }
}

}  // namespace

void EtcdStoreState::SawRevision(int64_t revision) { RaiseTo(head, revision); }
void EtcdStoreState::SawCompaction(int64_t revision) { RaiseTo(compacted, revision); }

absl::StatusOr<std::unique_ptr<EtcdWatcher>> EtcdWatcher::Start(
    std::shared_ptr<EtcdStoreState> state, std::string prefix, int64_t after_revision) {
  if (after_revision < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("watch revision must not be negative (got ", after_revision, ")"));
  }
  if (const int64_t compacted = state->compacted.load(); after_revision < compacted) {
    return CompactedError(after_revision, compacted);
  }
  const size_t members = state->connection->endpoints().size();
  std::unique_ptr<EtcdWatcher> watcher(
      new EtcdWatcher(std::move(state), std::move(prefix), after_revision));
  absl::Status status;
  for (size_t tried = 0; tried < members; ++tried) {
    status = watcher->OpenStream(/*wait=*/true);
    if (status.ok()) return watcher;
    watcher->CloseStream();
    if (IsCompacted(status)) {
      watcher->state_->SawCompaction(*CompactedRevision(status));
      return status;
    }
    watcher->state_->connection->FailedOver(watcher->stream_member_);
  }
  return status;
}

EtcdWatcher::EtcdWatcher(std::shared_ptr<EtcdStoreState> state, std::string prefix,
                         int64_t after_revision)
    : state_(std::move(state)),
      prefix_(std::move(prefix)),
      // etcd's revision 1 is its empty store: no event ever has it.
      delivered_(std::max<int64_t>(after_revision, 1)) {}

EtcdWatcher::~EtcdWatcher() { CloseStream(); }

absl::Status EtcdWatcher::OpenStream(bool wait) {
  const EtcdEndpoint member = state_->connection->Current();
  stream_member_ = member.index;
  absl::StatusOr<std::unique_ptr<EtcdWatchStream>> stream = EtcdWatchStream::Open(
      member.channel, member.address,
      {.key = state_->keyspace.kv_begin(),
       .range_end = state_->keyspace.kv_end(),
       .start_revision = delivered_ + 1,
       .progress_notify = true,
       .require_leader = true},
      {.on_events = [this](const etcdserverpb::WatchResponse& r) { OnResponse(r); },
       .on_done = [this](const absl::Status& s) { OnDone(s); }});
  if (!stream.ok()) return stream.status();
  stream_ = *std::move(stream);
  if (!wait) return absl::OkStatus();
  return stream_->WaitCreated(state_->connection->options().call_timeout);
}

void EtcdWatcher::CloseStream() {
  stream_.reset();  // cancels the stream and waits until no callback runs
  absl::MutexLock lock(&mu_);
  queue_.clear();
  queued_bytes_ = 0;
  overflowed_ = false;
  stream_end_.reset();
}

void EtcdWatcher::OnResponse(const etcdserverpb::WatchResponse& response) {
  if (!response.events().empty()) {
    state_->SawRevision(response.events(response.events_size() - 1).kv().mod_revision());
  }
  const size_t bytes = response.ByteSizeLong();
  absl::MutexLock lock(&mu_);
  if (overflowed_) return;
  // One response is always taken, however large, so that reading again makes progress.
  if (!queue_.empty() && queued_bytes_ + bytes > state_->options.watch_buffer_bytes) {
    overflowed_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    return;
  }
  queue_.push_back(response);
  queued_bytes_ += bytes;
}

void EtcdWatcher::OnDone(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  stream_end_ = status;
}

WatchBatch EtcdWatcher::Take(const etcdserverpb::WatchResponse& response) {
  WatchBatch batch;
  int64_t last = delivered_;
  for (const etcdserverpb::Event& event : response.events()) {
    const int64_t revision = event.kv().mod_revision();
    if (revision <= delivered_) continue;  // seen before the stream was opened again
    last = std::max(last, revision);
    std::optional<std::string_view> key = state_->keyspace.StoreKey(event.kv().key());
    if (key.has_value() && key->starts_with(prefix_)) {
      batch.events.push_back(state_->keyspace.ToStore(event));
    }
  }
  // A progress notification: etcd has sent everything up to its header's revision.
  if (response.events().empty()) last = std::max(last, response.header().revision());
  // etcd orders a transaction's events as its ops were; the Store's contract is key order.
  std::stable_sort(batch.events.begin(), batch.events.end(), [](const Event& a, const Event& b) {
    return std::tie(a.kv.mod_revision, a.kv.key) < std::tie(b.kv.mod_revision, b.kv.key);
  });
  delivered_ = last;
  batch.revision = last;
  state_->SawRevision(last);
  return batch;
}

absl::StatusOr<WatchBatch> EtcdWatcher::Next(absl::Duration timeout) {
  if (!error_.ok()) return error_;
  const absl::Time deadline = absl::Now() + timeout;
  const size_t members = state_->connection->endpoints().size();
  for (;;) {
    if (state_->closed.load()) {
      return error_ = absl::CancelledError("the etcd store was closed; the watch is over");
    }
    std::optional<etcdserverpb::WatchResponse> response;
    std::optional<absl::Status> ended;
    bool overflowed = false;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(this, &EtcdWatcher::Ready),
                            std::min(deadline, absl::Now() + kClosedPoll));
      if (cancelled_) return error_ = absl::CancelledError("the watch was cancelled");
      if (overflowed_) {
        overflowed = true;
      } else if (!queue_.empty()) {
        response = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= std::min(queued_bytes_, response->ByteSizeLong());
      } else if (stream_end_.has_value()) {
        ended = stream_end_;
      }
    }
    if (response.has_value()) {
      const int64_t before = delivered_;
      WatchBatch batch = Take(*response);
      if (!batch.events.empty() || batch.revision > before) {
        failed_streams_ = 0;
        return batch;
      }
      continue;
    }
    if (overflowed) {
      // Read what was dropped again from etcd's history.
      CloseStream();
      if (absl::Status s = OpenStream(/*wait=*/false); !s.ok()) return error_ = s;
      continue;
    }
    if (ended.has_value()) {
      CloseStream();
      if (IsCompacted(*ended)) {
        state_->SawCompaction(*CompactedRevision(*ended));
        return error_ = *ended;
      }
      // The member failed or went away: go on from the next one, unless every member failed
      // twice in a row (then the caller decides what to do).
      state_->connection->FailedOver(stream_member_);
      if (++failed_streams_ > static_cast<int>(2 * members)) return error_ = *ended;
      if (failed_streams_ % members == 0) absl::SleepFor(kStreamRoundPause);
      if (absl::Status s = OpenStream(/*wait=*/false); !s.ok()) return error_ = s;
      continue;
    }
    if (absl::Now() >= deadline) return WatchBatch{.revision = delivered_};
  }
}

void EtcdWatcher::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
}

}  // namespace fleet::storage::etcd
