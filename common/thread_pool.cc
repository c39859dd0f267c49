#include "common/thread_pool.h"

#include <algorithm>
#include <atomic>

namespace fleet {

struct ThreadPool::Loop {
  size_t count = 0;
  size_t slice = 1;
  const std::function<void(size_t)>* fn = nullptr;  // the caller's, alive until done
  std::atomic<size_t> next{0};
  absl::Mutex mu;
  size_t finished ABSL_GUARDED_BY(mu) = 0;  // items done
};

ThreadPool::ThreadPool(size_t threads) {
  for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

ThreadPool::~ThreadPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
}

void ThreadPool::Help(Loop& loop) {
  for (size_t begin = loop.next.fetch_add(loop.slice); begin < loop.count;
       begin = loop.next.fetch_add(loop.slice)) {
    const size_t end = std::min(loop.count, begin + loop.slice);
    for (size_t i = begin; i < end; ++i) (*loop.fn)(i);
    absl::MutexLock lock(&loop.mu);
    loop.finished += end - begin;
  }
}

void ThreadPool::ParallelFor(size_t count, size_t slice, const std::function<void(size_t)>& fn) {
  if (count == 0) return;
  auto loop = std::make_shared<Loop>();
  loop->count = count;
  loop->slice = std::max<size_t>(slice, 1);
  loop->fn = &fn;
  if (count > loop->slice && !threads_.empty()) {
    absl::MutexLock lock(&mu_);
    loops_.push_back(loop);
  }
  Help(*loop);
  absl::MutexLock lock(&loop->mu);
  auto done = [&loop] {
    loop->mu.AssertHeld();
    return loop->finished == loop->count;
  };
  loop->mu.Await(absl::Condition(&done));
}

void ThreadPool::Run() {
  while (true) {
    std::shared_ptr<Loop> loop;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this] {
        mu_.AssertHeld();
        return stopping_ || !loops_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (loops_.empty()) return;  // stopping, and nothing left to help with
      loop = loops_.front();
      // Every slice of it is taken: later helpers look at the next loop.
      if (loop->next.load() >= loop->count) {
        loops_.pop_front();
        continue;
      }
    }
    Help(*loop);
  }
}

}  // namespace fleet
