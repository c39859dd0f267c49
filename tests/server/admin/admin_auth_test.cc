// Admin authentication and roles: only a well-formed, known, unrevoked token with the right
// secret gets in, and only as far as its role allows.
#include "server/admin/admin_auth.h"

#include <sys/stat.h>

#include <fstream>

#include "gtest/gtest.h"
#include "server/admin/admin_token_service.h"
#include "server/model/secret_token.h"
#include "tests/server/admin_test_env.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet::server {
namespace {

class AdminAuthTest : public ::testing::Test {
 protected:
  std::string CreateToken(v1::Role role, const std::string& description = "") {
    v1::CreateAdminTokenRequest request;
    request.set_role(role);
    request.set_description(description);
    absl::StatusOr<v1::CreateAdminTokenResponse> created = tokens_.Create(request, "test");
    EXPECT_OK(created);
    return created.ok() ? created->secret() : "";
  }

  AdminTestEnv env_;
  AdminTokenService tokens_{*env_.store, env_.clock};
  AdminAuthenticator auth_{*env_.store};
};

// A valid token yields its id, role and description.
TEST_F(AdminAuthTest, ValidTokenAuthenticates) {
  std::string token = CreateToken(v1::ROLE_OPERATOR, "ci");
  ASSERT_OK_AND_ASSIGN(Principal principal, auth_.Authenticate("Bearer " + token));
  EXPECT_EQ(principal.role, v1::ROLE_OPERATOR);
  EXPECT_EQ(principal.token_id, token.substr(5, 12));
  EXPECT_EQ(principal.Author(), principal.token_id + " (ci)");
  EXPECT_EQ(principal.Creator().token_id(), principal.token_id);
  EXPECT_EQ(principal.Creator().description(), "ci");
}

// Missing, malformed, unknown, wrong-secret and revoked tokens are all UNAUTHENTICATED, and no
// message repeats the token.
TEST_F(AdminAuthTest, BadTokensAreUnauthenticated) {
  std::string token = CreateToken(v1::ROLE_ADMIN);
  std::string wrong_secret = token;
  wrong_secret.back() = wrong_secret.back() == '0' ? '1' : '0';
  MintedToken unknown = MintToken(kAdminTokenKind);
  MintedToken other_kind = MintToken(kEnrollmentTokenKind);
  for (const std::string& header : std::vector<std::string>{
           "", "Basic abc", "Bearer ", "Bearer nonsense", "Bearer " + wrong_secret,
           "Bearer " + unknown.token, "Bearer " + other_kind.token, token}) {
    absl::StatusOr<Principal> principal = auth_.Authenticate(header);
    EXPECT_EQ(principal.status().code(), absl::StatusCode::kUnauthenticated) << header;
    EXPECT_EQ(principal.status().message().find(token.substr(18)), std::string::npos);
  }
  std::string second_admin = CreateToken(v1::ROLE_ADMIN);
  v1::RevokeAdminTokenRequest revoke;
  revoke.set_id(token.substr(5, 12));
  ASSERT_OK(tokens_.Revoke(revoke));
  EXPECT_EQ(auth_.Authenticate("Bearer " + token).status().code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_OK(auth_.Authenticate("Bearer " + second_admin));
}

// Roles are ordered viewer < operator < admin.
TEST_F(AdminAuthTest, RolesAreOrdered) {
  Principal viewer{.token_id = "v", .role = v1::ROLE_VIEWER};
  Principal admin{.token_id = "a", .role = v1::ROLE_ADMIN};
  EXPECT_OK(AdminAuthenticator::Require(viewer, v1::ROLE_VIEWER));
  absl::Status denied = AdminAuthenticator::Require(viewer, v1::ROLE_OPERATOR);
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(denied.message().find("viewer"), std::string::npos);
  EXPECT_OK(AdminAuthenticator::Require(admin, v1::ROLE_OPERATOR));
}

// The stored record holds only a hash: the secret appears nowhere in the store.
TEST_F(AdminAuthTest, SecretIsNotStored) {
  std::string token = CreateToken(v1::ROLE_VIEWER);
  ASSERT_OK_AND_ASSIGN(storage::RangeResult all, env_.store->Range({}));
  for (const storage::KeyValue& kv : all.kvs) {
    EXPECT_EQ(kv.value.find(token.substr(18)), std::string::npos) << kv.key;
  }
}

// The bootstrap token is written once, 0600, and works; a second start writes nothing.
TEST_F(AdminAuthTest, BootstrapTokenOnFirstStartOnly) {
  testing::TempDir dir;
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> path, tokens_.EnsureBootstrapToken(dir.path()));
  ASSERT_TRUE(path.has_value());
  struct stat info;
  ASSERT_EQ(stat(path->c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  std::string token;
  std::ifstream(*path) >> token;
  ASSERT_OK_AND_ASSIGN(Principal principal, auth_.Authenticate("Bearer " + token));
  EXPECT_EQ(principal.role, v1::ROLE_ADMIN);
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> again, tokens_.EnsureBootstrapToken(dir.path()));
  EXPECT_FALSE(again.has_value());
}

// The last admin-role token cannot be revoked; a role is required to create one.
TEST_F(AdminAuthTest, LastAdminTokenStays) {
  std::string admin = CreateToken(v1::ROLE_ADMIN);
  CreateToken(v1::ROLE_VIEWER);
  v1::RevokeAdminTokenRequest revoke;
  revoke.set_id(admin.substr(5, 12));
  EXPECT_EQ(tokens_.Revoke(revoke).code(), absl::StatusCode::kFailedPrecondition);
  revoke.set_id("000000000000");
  EXPECT_EQ(tokens_.Revoke(revoke).code(), absl::StatusCode::kNotFound);
  v1::CreateAdminTokenRequest no_role;
  EXPECT_EQ(tokens_.Create(no_role, "x").status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(v1::ListAdminTokensResponse list, tokens_.List());
  EXPECT_EQ(list.tokens_size(), 2);
}

}  // namespace
}  // namespace fleet::server
