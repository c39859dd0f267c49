// Enrollment: an agent trades an enrollment token for its own credentials. The token must be
// known, unrevoked, unexpired and not used up; the agent record and the token's use count are
// written in one store transaction, so a token's max_uses is never exceeded, even by agents
// enrolling at once through several fleetd replicas.
//
// Enrollments with one token arriving together are committed together (EnrollmentBatcher): one
// read of the token and one durable transaction for up to kMaxEnrollmentBatch of them, so a burst
// of agents sharing a token is not bounded by one fsync per agent.
#ifndef FLEETD_SERVER_AGENT_ENROLLMENT_SERVICE_H_
#define FLEETD_SERVER_AGENT_ENROLLMENT_SERVICE_H_

#include <cstddef>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/log_rate_limiter.h"
#include "fleet/v1/agent.pb.h"
#include "server/agent/enrollment_batcher.h"
#include "storage/store.h"

namespace fleet::server {

// At most this many enrollments share one transaction (two more ops go with them: the token and
// the policy's refs key), and at most about this many bytes of agent records.
inline constexpr size_t kMaxEnrollmentBatch = 256;
inline constexpr size_t kMaxEnrollmentBatchBytes = 4 * 1024 * 1024;
static_assert(kMaxEnrollmentBatch + 2 <= storage::kMaxOpsPerTxn);

// Thread-safe.
class EnrollmentService {
 public:
  // `store` and `clock` are not owned and outlive the service.
  EnrollmentService(storage::Store& store, Clock& clock);

  // See AgentService.Enroll in agent.proto for the errors; ABORTED when the token kept changing
  // through other replicas. On success the agent exists, durably, assigned to the token's
  // policy, and the token counts one more use. A malformed request (token or facts) fails alone,
  // before it can join a batch; so does a wrong secret for a good token id.
  // Logs each enrollment and (rate-limited) each refusal with its reason, never a secret.
  absl::StatusOr<v1::EnrollResponse> Enroll(const v1::EnrollRequest& request);

 private:
  // The batcher's commit: decides every enrollment of `batch` (one token, in arrival order).
  // Grants uses in order while the token has any left, and commits the granted ones in one
  // transaction that holds only if the token is unchanged since it was read; when another
  // replica changed it meanwhile, reads it again and decides the whole batch again.
  void CommitBatch(const std::vector<PendingEnrollment*>& batch);
  // Logs a refusal (rate-limited) and returns `status`.
  absl::Status Refused(const absl::Status& status, std::string_view token_id,
                       const v1::AgentFacts& facts);

  storage::Store& store_;  // not owned
  Clock& clock_;           // not owned
  // Refusals are logged at most once per interval (a fleet retrying with a spent token would
  // flood the log); enrollments each.
  LogRateLimiter refusals_;
  EnrollmentBatcher batcher_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_ENROLLMENT_SERVICE_H_
