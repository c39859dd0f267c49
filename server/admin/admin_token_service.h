// Admin tokens: the bearer secrets of the admin API, each with a role. Only the secret's SHA-256
// is stored. On first start fleetd mints a bootstrap admin token into a 0600 file in its data
// directory, so that the first operator can log in.
#ifndef FLEETD_SERVER_ADMIN_ADMIN_TOKEN_SERVICE_H_
#define FLEETD_SERVER_ADMIN_ADMIN_TOKEN_SERVICE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "storage/store.h"

namespace fleet::server {

inline constexpr char kBootstrapTokenFile[] = "bootstrap-admin.token";

// Thread-safe.
class AdminTokenService {
 public:
  // `store` and `clock` are not owned and outlive the service.
  AdminTokenService(storage::Store& store, Clock& clock) : store_(store), clock_(clock) {}

  // Contracts as in admin.proto. Create: INVALID_ARGUMENT without a role. Revoke: NOT_FOUND for
  // an unknown id, FAILED_PRECONDITION for the last admin-role token. `author` and `creator` as
  // in PolicyService::Apply.
  absl::StatusOr<v1::CreateAdminTokenResponse> Create(const v1::CreateAdminTokenRequest& request,
                                                      const std::string& author,
                                                      const v1::Creator& creator = v1::Creator());
  absl::StatusOr<v1::ListAdminTokensResponse> List();
  absl::Status Revoke(const v1::RevokeAdminTokenRequest& request);

  // When the store holds no admin token, mints an admin one and writes it to
  // DATA_DIR/bootstrap-admin.token (mode 0600, written to a temp file, synced and renamed, then
  // stored), and returns the file's path; nullopt when admin tokens exist already. A crash in
  // between leaves no token in the store, so the next start mints again.
  absl::StatusOr<std::optional<std::string>> EnsureBootstrapToken(const std::string& data_dir);

 private:
  storage::Store& store_;  // not owned
  Clock& clock_;           // not owned
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_ADMIN_TOKEN_SERVICE_H_
