// Enrollment: an agent trades an enrollment token for its own credentials. The token must be
// known, unrevoked, unexpired and not used up; the agent record and the token's use count are
// written in one store transaction, so a token's max_uses is never exceeded, even by agents
// enrolling at once through several fleetd replicas.
#ifndef FLEETD_SERVER_ENROLLMENT_SERVICE_H_
#define FLEETD_SERVER_ENROLLMENT_SERVICE_H_

#include <array>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fleet/v1/agent.pb.h"
#include "server/clock.h"
#include "storage/store.h"

namespace fleet::server {

// Thread-safe.
class EnrollmentService {
 public:
  // `store` and `clock` are not owned and outlive the service.
  EnrollmentService(storage::Store& store, Clock& clock) : store_(store), clock_(clock) {}

  // See AgentService.Enroll in agent.proto for the errors. On success the agent exists, durably,
  // assigned to the token's policy, and the token counts one more use.
  absl::StatusOr<v1::EnrollResponse> Enroll(const v1::EnrollRequest& request);

 private:
  // Serializes this process's enrollments with one token (striped by token id, so memory stays
  // bounded whatever ids clients send): they would otherwise race on the token's use count and
  // mostly retry. Enrollments through other replicas still race, and retry.
  absl::Mutex& TokenLock(const std::string& token_id);

  storage::Store& store_;  // not owned
  Clock& clock_;           // not owned
  std::array<absl::Mutex, 64> token_locks_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ENROLLMENT_SERVICE_H_
