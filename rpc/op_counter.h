// The operations a stream has in flight on a completion queue (cq_pool.h), and the moment the
// stream is over: its Finish has completed and every other operation has completed and had its
// callback return. AsyncStream (async_stream.h), under both the server's and the client's async
// streams, ends this way.
#ifndef FLEETD_RPC_OP_COUNTER_H_
#define FLEETD_RPC_OP_COUNTER_H_

#include <atomic>
#include <cstdint>

namespace fleet::rpc {

// Thread-safe and lock-free: it counts twice per message on both sides of every stream, often
// with the stream's own lock held, where one atomic add is cheaper than a mutex and takes no
// part in lock ordering (which the tests check: Debian's abseil detects mutex deadlocks).
class OpCounter {
 public:
  // An operation is about to start.
  void Begin() { state_.fetch_add(1); }

  // An operation completed and its callback returned; `was_finish` for the stream's Finish.
  // True exactly once: when Finish has completed and nothing else is outstanding (the caller
  // then ends the stream, and may destroy it).
  bool End(bool was_finish) {
    // One atomic word holds both facts, so that the last End sees them together. Sequentially
    // consistent, so that whoever ends the stream sees what every callback before it wrote.
    const int64_t change = was_finish ? kFinished - 1 : -1;
    return state_.fetch_add(change) + change == kFinished;
  }

 private:
  // Added once Finish has completed; below it, the count of operations outstanding.
  static constexpr int64_t kFinished = int64_t{1} << 32;
  std::atomic<int64_t> state_{0};
};

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_OP_COUNTER_H_
