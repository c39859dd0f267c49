// A fixed set of threads, created once, that share out the items of a loop with its caller: for
// work that fans out to many independent items (kicking every stream of a policy after a change)
// without starting threads per call.
#ifndef FLEETD_COMMON_THREAD_POOL_H_
#define FLEETD_COMMON_THREAD_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace fleet {

// Thread-safe: ParallelFor may be called from several threads at once.
class ThreadPool {
 public:
  // Starts `threads` threads (0 is allowed: callers then do all the work themselves).
  explicit ThreadPool(size_t threads);
  // Waits for the loops in progress, then stops the threads.
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Calls fn(i) for every i in [0, count), in slices of `slice` items, on the calling thread and
  // on as many pool threads as are free; returns when every call has returned.
  void ParallelFor(size_t count, size_t slice, const std::function<void(size_t)>& fn);

 private:
  struct Loop;
  // Takes slices of `loop` until none are left.
  static void Help(Loop& loop);
  void Run();

  absl::Mutex mu_;
  std::deque<std::shared_ptr<Loop>> loops_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace fleet

#endif  // FLEETD_COMMON_THREAD_POOL_H_
