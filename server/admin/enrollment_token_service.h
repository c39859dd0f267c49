// Enrollment tokens: what an agent presents to enroll, bound to a policy, optionally expiring or
// limited in uses. Only the secret's SHA-256 is stored; the secret is returned once, at creation.
#ifndef FLEETD_SERVER_ADMIN_ENROLLMENT_TOKEN_SERVICE_H_
#define FLEETD_SERVER_ADMIN_ENROLLMENT_TOKEN_SERVICE_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "storage/store.h"

namespace fleet::server {

// Thread-safe.
class EnrollmentTokenService {
 public:
  // `store` and `clock` are not owned and outlive the service.
  EnrollmentTokenService(storage::Store& store, Clock& clock) : store_(store), clock_(clock) {}

  // Contracts as in admin.proto. Create: NOT_FOUND for an unknown policy, INVALID_ARGUMENT for a
  // non-positive ttl or a negative max_uses. Revoke: NOT_FOUND for an unknown id; revoking twice
  // is OK. `author` and `creator` as in PolicyService::Apply.
  absl::StatusOr<v1::CreateEnrollmentTokenResponse> Create(
      const v1::CreateEnrollmentTokenRequest& request, const std::string& author,
      const v1::Creator& creator = v1::Creator());
  absl::StatusOr<v1::ListEnrollmentTokensResponse> List(
      const v1::ListEnrollmentTokensRequest& request);
  absl::Status Revoke(const v1::RevokeEnrollmentTokenRequest& request);

 private:
  storage::Store& store_;  // not owned
  Clock& clock_;           // not owned
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_ENROLLMENT_TOKEN_SERVICE_H_
