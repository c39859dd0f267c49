#include "server/admin/admin_auth.h"

#include "absl/strings/str_cat.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/secret_token.h"
#include "server/model/store_layout.h"

namespace fleet::server {

std::string Principal::Author() const {
  return description.empty() ? token_id : absl::StrCat(token_id, " (", description, ")");
}

v1::Creator Principal::Creator() const {
  v1::Creator creator;
  creator.set_token_id(token_id);
  creator.set_description(description);
  return creator;
}

std::string RoleName(v1::Role role) {
  switch (role) {
    case v1::ROLE_VIEWER:
      return "viewer";
    case v1::ROLE_OPERATOR:
      return "operator";
    case v1::ROLE_ADMIN:
      return "admin";
    default:
      return "unspecified";
  }
}

absl::StatusOr<Principal> AdminAuthenticator::Authenticate(std::string_view authorization) {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.empty()) {
    return absl::UnauthenticatedError(
        "no admin token: send \"authorization: Bearer <token>\" (fleetctl login)");
  }
  if (authorization.substr(0, kScheme.size()) != kScheme) {
    return absl::UnauthenticatedError("the authorization header must be \"Bearer <token>\"");
  }
  absl::StatusOr<ParsedToken> parsed =
      ParseToken(authorization.substr(kScheme.size()), kAdminTokenKind);
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<std::optional<StoredRecord<record::AdminTokenRecord>>> stored =
      ReadRecord<record::AdminTokenRecord>(store_, layout::AdminTokenKey(parsed->id));
  if (!stored.ok()) return absl::UnavailableError(std::string(stored.status().message()));
  if (!stored->has_value() || !SecretMatches(parsed->secret, (*stored)->record.secret_sha256())) {
    return absl::UnauthenticatedError("unknown or revoked admin token");
  }
  const v1::AdminToken& token = (*stored)->record.token();
  return Principal{
      .token_id = token.id(), .role = token.role(), .description = token.description()};
}

absl::Status AdminAuthenticator::Require(const Principal& principal, v1::Role needed) {
  if (principal.role >= needed) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat("token ", principal.token_id, " has role ",
                                                  RoleName(principal.role), "; this needs ",
                                                  RoleName(needed), " or higher"));
}

}  // namespace fleet::server
