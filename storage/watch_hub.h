// The watch machinery every Store backend shares. A backend hands the hub each committed
// transaction (Publish) and lets it read the revision log (LogSource); the hub serves Watchers.
//
// A watcher is in one of two modes. Catching up, it reads the log from the last revision it
// delivered. Once a read reaches the newest published revision it turns live: Publish appends
// shared, immutable transactions to its buffer without copying or waiting. When a consumer is
// too slow and its buffer passes the byte limit, the buffer is dropped and the watcher goes back
// to catching up from the log, so writers never block and memory stays bounded, without gaps.
#ifndef FLEETD_STORAGE_WATCH_HUB_H_
#define FLEETD_STORAGE_WATCH_HUB_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "storage/store.h"
#include "storage/types.h"

namespace fleet::storage {

// Where watchers read the past. Implemented by each backend; must be thread-safe.
class LogSource {
 public:
  struct Page {
    std::vector<CommittedTxnPtr> txns;  // revision > after_revision, oldest first
    // Every revision up to this one has been returned: the last transaction's revision when the
    // page was cut short by max_bytes, else the store's revision at the time of the read.
    int64_t scanned_through = 0;
  };

  virtual ~LogSource() = default;

  // Reads committed transactions after `after_revision`, stopping once about `max_bytes` are
  // read (at least one transaction when any exists). The Compacted error when after_revision is
  // older than the compaction point.
  virtual absl::StatusOr<Page> ReadLog(int64_t after_revision, size_t max_bytes) = 0;
};

// Thread-safe.
class WatchHub {
 public:
  // `log` is not owned and must stay valid until Close returns. `published_revision` is the
  // store's revision when the hub starts.
  WatchHub(LogSource& log, size_t watcher_buffer_bytes, int64_t published_revision);
  // Closes the hub (see Close).
  ~WatchHub();

  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // A watcher on `prefix` that delivers every transaction after `after_revision`. The caller
  // checks after_revision against the compaction point first; if the log is compacted later,
  // Next reports it. The watcher may outlive the hub.
  std::unique_ptr<Watcher> NewWatcher(std::string prefix, int64_t after_revision);

  // Hands a committed transaction to the live watchers. The caller guarantees that it is already
  // readable through the LogSource and that calls come one at a time, in increasing revision
  // order. Never blocks on a watcher.
  void Publish(CommittedTxnPtr txn);

  // Makes every watcher's Next return CANCELLED and waits for log reads in flight; the LogSource
  // is not used after this returns. Idempotent.
  void Close();

  // The bytes a transaction counts against a watcher's buffer.
  static size_t ChargedBytes(const CommittedTxn& txn);

  struct Core;

 private:
  const std::shared_ptr<Core> core_;
};

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_WATCH_HUB_H_
