// The operations a stream has in flight on a completion queue (cq_pool.h), and the moment the
// stream is over: its Finish has completed and every other operation has completed and had its
// callback return. AsyncStream (async_stream.h), under both the server's and the client's async
// streams, ends this way.
#ifndef FLEETD_RPC_OP_COUNTER_H_
#define FLEETD_RPC_OP_COUNTER_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace fleet::rpc {

// Thread-safe; its lock is a leaf, so it may be called with the stream's own lock held.
class OpCounter {
 public:
  // An operation is about to start.
  void Begin() {
    absl::MutexLock lock(&mu_);
    ++outstanding_;
  }

  // An operation completed and its callback returned; `was_finish` for the stream's Finish.
  // True exactly once: when Finish has completed and nothing else is outstanding (the caller
  // then ends the stream, and may destroy it).
  bool End(bool was_finish) {
    absl::MutexLock lock(&mu_);
    if (was_finish) finished_ = true;
    return --outstanding_ == 0 && finished_;
  }

 private:
  absl::Mutex mu_;
  int outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_OP_COUNTER_H_
