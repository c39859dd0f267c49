// The etcd Store's Watcher (storage/store.h) and the state the store shares with its watchers.
//
// Each watcher holds one etcd watch on the fleet's whole revisioned range and keeps the events
// under its own prefix, so that it also learns of the fleet's commits outside the prefix (an
// empty batch says how far it has come). It is healed rather than ended when it can be:
//  - when the member serving it fails, it watches again from the revision after the last one
//    delivered, on the next member;
//  - when more than StoreOptions::watch_buffer_bytes of responses wait unread, it drops them
//    and the stream, and later reads them again from etcd's history (as the local stores read
//    their revision log), so a slow reader never makes etcd or fleetd hold more;
//  - when etcd has compacted what it needs, Next returns the Compacted error.
// etcd sends the events of one revision in one response, so batches never split a transaction.
#ifndef FLEETD_STORAGE_ETCD_ETCD_WATCHER_H_
#define FLEETD_STORAGE_ETCD_ETCD_WATCHER_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/etcd/etcd_api.pb.h"
#include "storage/etcd/etcd_connection.h"
#include "storage/etcd/etcd_keyspace.h"
#include "storage/etcd/etcd_watch.h"
#include "storage/store.h"

namespace fleet::storage::etcd {

// Shared by an EtcdStore and its watchers, which may outlive it. Thread-safe.
struct EtcdStoreState {
  EtcdStoreState(std::unique_ptr<EtcdConnection> connection, EtcdKeyspace keyspace,
                 StoreOptions options)
      : connection(std::move(connection)), keyspace(std::move(keyspace)), options(options) {}

  // Raises `head` to `revision` (never lowers it).
  void SawRevision(int64_t revision);
  // Raises `compacted` to `revision`.
  void SawCompaction(int64_t revision);

  const std::unique_ptr<EtcdConnection> connection;
  const EtcdKeyspace keyspace;
  const StoreOptions options;
  // The newest revision of this fleet's revisioned keys seen by the store or a watcher.
  std::atomic<int64_t> head{0};
  // The newest compaction point known (the Store's, one below etcd's compact revision).
  std::atomic<int64_t> compacted{0};
  // Set when the store is destroyed: watchers end with CANCELLED.
  std::atomic<bool> closed{false};
};

// Thread-compatible, as Watcher says: one thread calls Next; Cancel from any.
class EtcdWatcher final : public Watcher {
 public:
  // Starts watching keys under `prefix` (a Store key prefix) after `after_revision` and waits
  // for etcd to confirm, trying each member once. Errors: the Compacted error; the last
  // member's failure when none could be reached.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EtcdWatcher>> Start(
      std::shared_ptr<EtcdStoreState> state, std::string prefix, int64_t after_revision);

  ~EtcdWatcher() override;

  absl::StatusOr<WatchBatch> Next(absl::Duration timeout) override;
  void Cancel() override;

 private:
  EtcdWatcher(std::shared_ptr<EtcdStoreState> state, std::string prefix, int64_t after_revision);

  // Opens a stream from delivered_ + 1 on the current member. With `wait`, waits for etcd to
  // confirm it.
  absl::Status OpenStream(bool wait);
  // Ends the stream (if any) and forgets what it queued.
  void CloseStream() ABSL_LOCKS_EXCLUDED(mu_);
  // The batch for one response: events under the prefix after delivered_; advances delivered_.
  WatchBatch Take(const etcdserverpb::WatchResponse& response);
  // Called on gRPC's threads by the stream.
  void OnResponse(const etcdserverpb::WatchResponse& response) ABSL_LOCKS_EXCLUDED(mu_);
  void OnDone(const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);

  bool Ready() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return cancelled_ || !queue_.empty() || stream_end_.has_value() || overflowed_;
  }

  const std::shared_ptr<EtcdStoreState> state_;
  const std::string prefix_;  // the Store key prefix watched

  // Owned by the consumer thread.
  int64_t delivered_;  // every revision up to here has been delivered
  std::unique_ptr<EtcdWatchStream> stream_;
  size_t stream_member_ = 0;
  // Consecutive streams that ended without delivering anything.
  int failed_streams_ = 0;
  absl::Status error_;  // sticky, once Next failed

  absl::Mutex mu_;
  std::deque<etcdserverpb::WatchResponse> queue_ ABSL_GUARDED_BY(mu_);
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Status> stream_end_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace fleet::storage::etcd

#endif  // FLEETD_STORAGE_ETCD_ETCD_WATCHER_H_
