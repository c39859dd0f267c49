// Completion queues with a thread each, for gRPC's async API.
//
// Why not the callback API: Debian's libgrpc is built without NDEBUG, and its completion queues
// then track every outstanding operation in an array that each completion scans (linearly,
// under the queue's lock). The callback API puts every stream of a process on one shared queue,
// so with N streams each completion costs O(N): 100,000 agent streams made each push and each ack
// cost tens of microseconds in that scan alone. Spreading streams over many queues divides N.
#ifndef FLEETD_RPC_CQ_POOL_H_
#define FLEETD_RPC_CQ_POOL_H_

#include <grpcpp/completion_queue.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace fleet::rpc {

// The streams one queue should carry at most, about: with many more, that scan costs each
// completion microseconds (100,000 streams on 2 queues made a live query take 20 s; on 32, 3 to
// 5 s).
inline constexpr int64_t kStreamsPerQueue = 3000;

// What is passed as the tag of every operation on a pooled queue: Done runs on the queue's
// thread when the operation completes (`ok` as gRPC reports it).
class CqTag {
 public:
  virtual void Done(bool ok) = 0;

 protected:
  ~CqTag() = default;
};

// Thread-safe. Every queue gets one thread that runs the tags' Done until Shutdown().
class CqPool {
 public:
  // Takes the queues (e.g. the server's, from ServerBuilder::AddCompletionQueue, or new client
  // ones) and starts a thread per queue. Tags must be CqTag*.
  explicit CqPool(std::vector<std::unique_ptr<grpc::CompletionQueue>> queues);
  // Shuts down and joins.
  ~CqPool();
  CqPool(const CqPool&) = delete;
  CqPool& operator=(const CqPool&) = delete;

  // A new pool of `count` client queues.
  static std::unique_ptr<CqPool> ForClients(int count);
  // How many queues `streams` streams need: one per kStreamsPerQueue, at least 1 and at most
  // `max_queues`. As few as that, since every queue in use is a thread the completions wake, and
  // fewer busy threads batch more completions per wakeup.
  static int QueuesFor(int64_t streams, int max_queues);

  size_t size() const { return queues_.size(); }
  // Queue `i % size()`.
  grpc::CompletionQueue* queue(size_t i) const { return queues_[i % queues_.size()].get(); }
  // The queues in turn, for spreading streams.
  grpc::CompletionQueue* Next() { return queue(next_++); }

  // Shuts the queues down, lets every pending tag complete (with ok = false for what was
  // cancelled) and joins the threads. Call after the server (if any) has shut down and every
  // call on the queues has ended (live_calls.h says why). Idempotent.
  void Shutdown();

 private:
  static void Drain(grpc::CompletionQueue* queue);

  std::vector<std::unique_ptr<grpc::CompletionQueue>> queues_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
  std::atomic<bool> shut_down_{false};
};

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_CQ_POOL_H_
