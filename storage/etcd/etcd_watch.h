// One etcd Watch stream carrying one watch on a key or a key range: it sends the create request,
// reports the created confirmation and every event batch to callbacks, and ends when cancelled,
// when etcd cancels the watch, or when the connection fails.
//
// Threads: none of its own. The stream is a gRPC callback reactor (one read in flight at a time),
// so its callbacks run on gRPC's callback threads and ten thousand streams in one process cost
// memory, not threads.
#ifndef FLEETD_STORAGE_ETCD_ETCD_WATCH_H_
#define FLEETD_STORAGE_ETCD_ETCD_WATCH_H_

#include <grpcpp/channel.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/etcd/etcd_api.pb.h"

namespace fleet::storage::etcd {

struct EtcdWatchOptions {
  // The key watched, or the first key of the range; must not be empty.
  std::string key;
  // Empty: only `key`. Otherwise the range [key, range_end).
  std::string range_end;
  // The first revision to deliver (inclusive), to replay history; 0 delivers only writes made
  // after etcd created the watch. A revision etcd has compacted ends the stream (see Wait).
  int64_t start_revision = 0;
  // Events carry the key's previous value too.
  bool prev_kv = false;
  // etcd sends an event-less response now and then while the key does not change.
  bool progress_notify = false;
  // etcd ends the watch (UNAVAILABLE, "no leader") when the member loses its leader, instead of
  // leaving a partitioned member's watch silent.
  bool require_leader = false;
};

// Each hook may be empty. They run on gRPC's callback threads, one at a time for one stream and
// in the order etcd sent the responses; they must not block (they hold up a gRPC thread), must
// not Wait on their own stream, and must not destroy any stream (see ~EtcdWatchStream) nor drop
// what may be the last reference to its channel. Cancel() is fine.
struct EtcdWatchCallbacks {
  // etcd's confirmation that the watch exists; events for it follow. Once per stream.
  std::function<void(const etcdserverpb::WatchResponse&)> on_created;
  // Every later response: an event batch in revision order (events of one revision are never
  // split), or, with progress_notify, one without events whose header says how far etcd is.
  std::function<void(const etcdserverpb::WatchResponse&)> on_events;
  // The stream ended, with the status Wait() returns. The last hook to run.
  std::function<void(const absl::Status&)> on_done;
};

// Cancel() and the Wait methods are thread-safe.
class EtcdWatchStream {
 public:
  // Opens a Watch stream on `channel` (which leads to `endpoint`, named in errors; the stream
  // keeps a reference) and asks etcd to create the watch. Returns at once: creation, events and
  // failures arrive through `callbacks`. INVALID_ARGUMENT for an empty key.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<EtcdWatchStream>> Open(
      std::shared_ptr<grpc::Channel> channel, std::string endpoint, EtcdWatchOptions options,
      EtcdWatchCallbacks callbacks);

  // Cancels the stream and waits until gRPC is done with it, so no hook runs afterwards. gRPC
  // ends a cancelled stream promptly, so this wait has no bound of its own. Releases the stream's
  // channel references before it returns, on the calling thread, which must therefore not be one
  // of gRPC's: gRPC 1.51 runs callbacks on a thread pool that the last callback-using channel
  // shuts down when it goes, and a pool thread doing that frees the pool's completion queue under
  // its own feet (a double free at exit; grpc/grpc#32584).
  ~EtcdWatchStream();
  EtcdWatchStream(const EtcdWatchStream&) = delete;
  EtcdWatchStream& operator=(const EtcdWatchStream&) = delete;

  // Waits up to `timeout` for etcd to confirm the watch. OK once it has and on_created has
  // returned (also after the stream ended); the stream's final status when it ended unconfirmed;
  // DEADLINE_EXCEEDED, naming the key, after `timeout`.
  absl::Status WaitCreated(absl::Duration timeout);

  // Ends the stream, and with it the watch (etcd drops the watches of a closed stream). Returns
  // at once; Wait() sees the end. Idempotent; harmless after the stream ended.
  void Cancel();

  // Waits up to `timeout` for the stream to end; nullopt while it still runs. The final status:
  // CANCELLED after Cancel(); OUT_OF_RANGE naming the compact revision when start_revision was
  // compacted; ABORTED with etcd's reason when etcd cancelled the watch for another reason; the
  // stream's gRPC error otherwise (UNAVAILABLE when etcd is unreachable or went away). The
  // OUT_OF_RANGE status is storage::CompactedError (storage/errors.h), which carries the compact
  // revision. Every message names etcd and the endpoint.
  std::optional<absl::Status> Wait(absl::Duration timeout);

 private:
  // The callback reactor. This handle alone owns it and deletes it once OnDone has finished, so
  // that it is never deleted, and the channel never released, on a gRPC thread.
  class Reactor;
  explicit EtcdWatchStream(std::unique_ptr<Reactor> reactor);

  const std::unique_ptr<Reactor> reactor_;
};

}  // namespace fleet::storage::etcd

#endif  // FLEETD_STORAGE_ETCD_ETCD_WATCH_H_
