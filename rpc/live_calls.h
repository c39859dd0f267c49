// The server calls a service has accepted and not yet destroyed. A completion queue must not be
// shut down while any of its calls lives: a cancelled call's last operations complete after the
// server's Shutdown returns, and their callbacks start more (a Finish after a failed write);
// started on a queue that has shut down and drained, gRPC aborts the process. So a service
// waits here for its calls to end between shutting the server down and shutting the queues down.
#ifndef FLEETD_RPC_LIVE_CALLS_H_
#define FLEETD_RPC_LIVE_CALLS_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace fleet::rpc {

// Thread-safe. Counts once per call, as it starts and as it is destroyed, never per message.
class LiveCalls {
 public:
  // What one call holds for as long as it lives: counted from construction to destruction.
  class Entry {
   public:
    // `calls` outlives the entry.
    explicit Entry(LiveCalls& calls);
    ~Entry();
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;

   private:
    LiveCalls& calls_;
  };

  LiveCalls() = default;
  LiveCalls(const LiveCalls&) = delete;
  LiveCalls& operator=(const LiveCalls&) = delete;

  // Waits until no entry is left or `timeout` has passed; returns how many are left (0 when all
  // calls ended).
  int64_t AwaitNone(absl::Duration timeout);

  int64_t count() const;

 private:
  mutable absl::Mutex mu_;
  int64_t live_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_LIVE_CALLS_H_
