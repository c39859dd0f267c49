#include "server/agent/enrollment_batcher.h"

#include <utility>

namespace fleet::server {

EnrollmentBatcher::EnrollmentBatcher(size_t max_batch, size_t max_bytes, CommitFn commit)
    : max_batch_(max_batch > 0 ? max_batch : 1),
      max_bytes_(max_bytes),
      commit_(std::move(commit)) {}

void EnrollmentBatcher::Enroll(PendingEnrollment& enrollment) {
  Waiter me{.enrollment = &enrollment};
  std::vector<Waiter*> batch = JoinOrLead(me);
  if (batch.empty()) return;  // a leader decided it
  std::vector<PendingEnrollment*> enrollments;
  enrollments.reserve(batch.size());
  for (Waiter* waiter : batch) enrollments.push_back(waiter->enrollment);
  commit_(enrollments);
  Finish(enrollment.token_id, batch);
}

size_t EnrollmentBatcher::QueuedFor(const std::string& token_id) {
  absl::MutexLock lock(&mu_);
  auto it = queues_.find(token_id);
  return it == queues_.end() ? 0 : it->second.size();
}

std::vector<EnrollmentBatcher::Waiter*> EnrollmentBatcher::JoinOrLead(Waiter& me) {
  const std::string& token_id = me.enrollment->token_id;
  absl::MutexLock lock(&mu_);
  auto [it, no_leader] = queues_.try_emplace(token_id);
  if (no_leader) return {&me};  // nothing is queued either: lead a batch of one
  it->second.push_back(&me);
  while (!me.done && !me.leads) me.cv.Wait(&mu_);
  if (me.done) return {};
  // The lead was passed to `me`, first in line.
  std::deque<Waiter*>& queue = queues_.find(token_id)->second;
  std::vector<Waiter*> batch;
  size_t bytes = 0;
  while (!queue.empty() && batch.size() < max_batch_) {
    Waiter* next = queue.front();
    if (!batch.empty() && bytes + next->enrollment->bytes > max_bytes_) break;
    bytes += next->enrollment->bytes;
    batch.push_back(next);
    queue.pop_front();
  }
  return batch;
}

void EnrollmentBatcher::Finish(const std::string& token_id, const std::vector<Waiter*>& batch) {
  absl::MutexLock lock(&mu_);
  auto it = queues_.find(token_id);
  if (it->second.empty()) {
    queues_.erase(it);
  } else {
    // The next leader first: on few cores the woken followers would otherwise run ahead of it,
    // and the next batch would wait for them.
    Waiter* next = it->second.front();
    next->leads = true;
    next->cv.Signal();
  }
  // batch[0] is the leader itself. A follower reads its result only after it takes mu_, which
  // orders the leader's writes before its reads; it cannot return (and destroy its Waiter)
  // before this loop has released mu_.
  for (size_t i = 1; i < batch.size(); ++i) {
    batch[i]->done = true;
    batch[i]->cv.Signal();
  }
}

}  // namespace fleet::server
