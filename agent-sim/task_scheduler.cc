#include "agent-sim/task_scheduler.h"

#include <algorithm>
#include <utility>

namespace fleet::agent {

TimerThread::TimerThread() : thread_([this] { Run(); }) {}

TimerThread::~TimerThread() { Stop(); }

bool TimerThread::Later(const Entry& a, const Entry& b) {
  return a.at != b.at ? a.at > b.at : a.seq > b.seq;
}

void TimerThread::At(absl::Time at, Task task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  heap_.push_back({.at = at, .seq = next_seq_++, .task = std::move(task)});
  std::push_heap(heap_.begin(), heap_.end(), Later);
  // Only a new earliest task changes how long the thread sleeps.
  if (heap_.front().seq == next_seq_ - 1) wake_.Signal();
}

size_t TimerThread::pending() const {
  absl::MutexLock lock(&mu_);
  return heap_.size();
}

void TimerThread::Stop() {
  std::vector<Entry> dropped;
  {
    absl::MutexLock lock(&mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
    dropped.swap(heap_);
    wake_.Signal();
  }
  if (thread_.joinable()) thread_.join();
  // `dropped` goes here, outside the lock: destroying a task may release what it held.
}

void TimerThread::Run() {
  std::vector<Task> due;
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    if (heap_.empty()) {
      wake_.Wait(&mu_);
      continue;
    }
    const absl::Time now = absl::Now();
    if (heap_.front().at > now) {
      wake_.WaitWithDeadline(&mu_, heap_.front().at);
      continue;
    }
    while (!heap_.empty() && heap_.front().at <= now) {
      std::pop_heap(heap_.begin(), heap_.end(), Later);
      due.push_back(std::move(heap_.back().task));
      heap_.pop_back();
    }
    mu_.Unlock();
    for (Task& task : due) std::move(task)();
    due.clear();
    mu_.Lock();
  }
}

}  // namespace fleet::agent
