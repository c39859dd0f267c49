// Batching of concurrent enrollments that use one enrollment token, in the manner of a store's
// group commit: each call queues up behind its token; the first in line (the leader) takes what
// is queued, hands the batch to the commit function, which decides every enrollment of it at
// once (one read of the token, one transaction), then wakes the others with their results and
// passes the lead to the next in line. Enrollments with different tokens never wait for each
// other.
#ifndef FLEETD_SERVER_AGENT_ENROLLMENT_BATCHER_H_
#define FLEETD_SERVER_AGENT_ENROLLMENT_BATCHER_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fleet/v1/agent.pb.h"

namespace fleet::server {

// One Enroll call on its way through a batch.
struct PendingEnrollment {
  std::string token_id;                   // the token's id: enrollments batch by it
  std::string token_secret;               // the secret the caller presented, checked per call
  const v1::AgentFacts* facts = nullptr;  // validated; not owned, outlives the call
  size_t bytes = 0;                       // about what the enrollment adds to the transaction
  absl::StatusOr<v1::EnrollResponse> result = absl::UnknownError("not decided");
};

// Thread-safe.
class EnrollmentBatcher {
 public:
  // Decides every enrollment of `batch` (all of one token, in arrival order) by setting its
  // `result`. Called by one thread at a time per token, without locks held; may block (it
  // commits to the store).
  using CommitFn = std::function<void(const std::vector<PendingEnrollment*>& batch)>;

  // A batch holds at most `max_batch` enrollments (>= 1), and stops before the enrollment that
  // would take it past `max_bytes`, except that its first always goes in.
  EnrollmentBatcher(size_t max_batch, size_t max_bytes, CommitFn commit);

  // Returns once `enrollment.result` is set, by this thread's commit or another's. `enrollment`
  // is borrowed for the call. Memory held is proportional to the calls in flight, whatever
  // token ids they carry.
  void Enroll(PendingEnrollment& enrollment);

  // How many calls with `token_id` wait behind the batch being committed. For tests, which need
  // to know when others have queued up.
  size_t QueuedFor(const std::string& token_id);

 private:
  // A caller waiting in a token's queue; lives on the caller's stack. Its fields are guarded by
  // mu_.
  struct Waiter {
    PendingEnrollment* enrollment;  // not owned
    bool done = false;              // enrollment->result is set
    bool leads = false;             // the previous leader passed the lead on to this one
    absl::CondVar cv;
  };

  // Queues `me` behind its token and waits until another leader decided it (returns empty) or
  // it leads (returns the batch to commit, starting with `me`, taken off the queue).
  std::vector<Waiter*> JoinOrLead(Waiter& me);
  // After the leader's commit: passes the lead to the next in line (or forgets the token when
  // none is queued) and wakes the batch's followers.
  void Finish(const std::string& token_id, const std::vector<Waiter*>& batch);

  const size_t max_batch_;
  const size_t max_bytes_;
  const CommitFn commit_;

  absl::Mutex mu_;
  // Per token with a leader at work: the calls queued behind it, in arrival order. A token has
  // an entry exactly while some call leads for it.
  std::unordered_map<std::string, std::deque<Waiter*>> queues_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_ENROLLMENT_BATCHER_H_
