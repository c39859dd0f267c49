// Who is calling the admin API, and whether they may: bearer admin tokens checked against the
// hashes in the store, and the role each RPC needs (admin.proto).
#ifndef FLEETD_SERVER_ADMIN_ADMIN_AUTH_H_
#define FLEETD_SERVER_ADMIN_ADMIN_AUTH_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "fleet/v1/admin.pb.h"
#include "storage/store.h"

namespace fleet::server {

struct Principal {
  std::string token_id;
  v1::Role role = v1::ROLE_UNSPECIFIED;
  std::string description;

  // How revisions and tokens name their author: the token id, with the description in
  // parentheses when it has one.
  std::string Author() const;
  // The same as the admin API's object (admin.proto Creator).
  v1::Creator Creator() const;
};

// Thread-safe; reads the store on every call, so a revoked token stops working at once.
class AdminAuthenticator {
 public:
  explicit AdminAuthenticator(storage::Store& store) : store_(store) {}  // store not owned

  // The principal for an `authorization` metadata value ("Bearer <token>"). UNAUTHENTICATED
  // when it is missing, malformed, unknown or revoked: the message says which, never the token.
  absl::StatusOr<Principal> Authenticate(std::string_view authorization);

  // OK when `principal`'s role is at least `needed`; PERMISSION_DENIED naming both otherwise.
  static absl::Status Require(const Principal& principal, v1::Role needed);

 private:
  storage::Store& store_;  // not owned; outlives this
};

// "viewer", "operator", "admin" (or "unspecified").
std::string RoleName(v1::Role role);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_ADMIN_AUTH_H_
