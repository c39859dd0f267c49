// The audit line of admin mutations, alone and as AdminService writes it: one line per RPC that
// writes, none for reads, never a secret; authentication failures logged at a bounded rate.
#include "server/admin/audit_log.h"

#include <grpcpp/test/server_context_test_spouse.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/admin/admin_service.h"
#include "tests/server/admin_test_env.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

// A successful mutation's line names the RPC, the actor, the target, OK and the revision.
TEST(AuditLineTest, SuccessFields) {
  testing::LogCapture capture;
  Principal actor{.token_id = "0123456789ab", .role = v1::ROLE_OPERATOR, .description = "ci"};
  AuditLine("ApplyPolicy", actor, {.target = "policy/web"}, absl::OkStatus(), 17).Log();
  std::vector<nlohmann::json> lines = capture.LinesWithMessage(kAuditMessage);
  ASSERT_THAT(lines, SizeIs(1));
  const nlohmann::json want = {{"msg", "admin mutation"},
                               {"level", "info"},
                               {"rpc", "ApplyPolicy"},
                               {"actor_token_id", "0123456789ab"},
                               {"actor_role", "operator"},
                               {"target", "policy/web"},
                               {"code", "OK"},
                               {"revision", 17}};
  nlohmann::json got = lines[0];
  got.erase("time");
  EXPECT_EQ(got, want);
}

// A failed mutation adds its error; a dry run says so; a huge target is cut.
TEST(AuditLineTest, ErrorDryRunAndLongTarget) {
  Principal actor{.token_id = "t", .role = v1::ROLE_ADMIN};
  AuditLine line("ApplyPolicy", actor,
                 {.target = "policy/" + std::string(10'000, 'x'), .dry_run = true},
                 absl::NotFoundError("no policy"), 3);
  std::vector<std::string> keys;
  for (const LogField& field : line.fields()) {
    keys.emplace_back(field.key());
    if (field.key() == "code") {
      EXPECT_EQ(field.text(), "NOT_FOUND");
    }
    if (field.key() == "error") {
      EXPECT_EQ(field.text(), "no policy");
    }
    if (field.key() == "target") {
      EXPECT_EQ(field.text().size(), 256u);
    }
    if (field.key() == "dry_run") {
      EXPECT_EQ(field.integer(), 1);
    }
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"rpc", "actor_token_id", "actor_role", "target", "code",
                                            "error", "revision", "dry_run"}));
}

class AdminServiceAuditTest : public ::testing::Test {
 protected:
  AdminServiceAuditTest() {
    v1::CreateAdminTokenRequest request;
    request.set_role(v1::ROLE_ADMIN);
    admin_token_ = service_.admin_tokens().Create(request, "test")->secret();
    request.set_role(v1::ROLE_VIEWER);
    viewer_token_ = service_.admin_tokens().Create(request, "test")->secret();
  }

  // A server context whose call carries `token` as its bearer token. The spouse holds the
  // metadata's strings, so it lives as long as the context.
  struct Call {
    grpc::ServerContext context;
    grpc::testing::ServerContextTestSpouse spouse{&context};
    grpc::ServerContext* get() { return &context; }
  };
  static std::unique_ptr<Call> Context(const std::string& token) {
    auto call = std::make_unique<Call>();
    call->spouse.AddClientMetadata("authorization", "Bearer " + token);
    return call;
  }

  grpc::Status Apply(const std::string& token, const std::string& name) {
    v1::ApplyPolicyRequest request;
    request.set_name(name);
    request.set_spec_json(R"({"a":1})");
    v1::ApplyPolicyResponse response;
    return service_.ApplyPolicy(Context(token)->get(), &request, &response);
  }

  AdminTestEnv env_;
  AdminService service_{*env_.store, env_.clock, env_.control(), AdminServiceOptions{}};
  std::string admin_token_;
  std::string viewer_token_;
};

// An apply is one audit line, with the store's revision after it; a read is none.
TEST_F(AdminServiceAuditTest, ApplyIsOneLineAndReadsNone) {
  testing::LogCapture capture;
  ASSERT_TRUE(Apply(admin_token_, "web").ok());
  v1::GetPolicyRequest get;
  get.set_name("web");
  v1::Policy policy;
  ASSERT_TRUE(service_.GetPolicy(Context(admin_token_)->get(), &get, &policy).ok());
  std::vector<nlohmann::json> lines = capture.LinesWithMessage(kAuditMessage);
  ASSERT_THAT(lines, SizeIs(1)) << capture.text();
  EXPECT_EQ(lines[0]["rpc"], "ApplyPolicy");
  EXPECT_EQ(lines[0]["target"], "policy/web");
  EXPECT_EQ(lines[0]["actor_role"], "admin");
  EXPECT_EQ(lines[0]["actor_token_id"], admin_token_.substr(5, 12));
  EXPECT_EQ(lines[0]["code"], "OK");
  EXPECT_EQ(lines[0]["revision"], env_.store->CurrentRevision());
}

// A mutation the caller's role does not allow is audited as PERMISSION_DENIED.
TEST_F(AdminServiceAuditTest, RefusedRoleIsAudited) {
  testing::LogCapture capture;
  EXPECT_EQ(Apply(viewer_token_, "web").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  std::vector<nlohmann::json> lines = capture.LinesWithMessage(kAuditMessage);
  ASSERT_THAT(lines, SizeIs(1));
  EXPECT_EQ(lines[0]["code"], "PERMISSION_DENIED");
  EXPECT_EQ(lines[0]["actor_role"], "viewer");
}

// Creating a token audits the new token's id, never its secret nor the caller's.
TEST_F(AdminServiceAuditTest, CreatedTokenIsNamedNotShown) {
  testing::LogCapture capture;
  v1::CreateAdminTokenRequest request;
  request.set_role(v1::ROLE_OPERATOR);
  v1::CreateAdminTokenResponse response;
  ASSERT_TRUE(service_.CreateAdminToken(Context(admin_token_)->get(), &request, &response).ok());
  std::vector<nlohmann::json> lines = capture.LinesWithMessage(kAuditMessage);
  ASSERT_THAT(lines, SizeIs(1));
  EXPECT_EQ(lines[0]["target"], "admin-token/" + response.token().id());
  EXPECT_THAT(capture.text(), Not(HasSubstr(response.secret().substr(18))));
  EXPECT_THAT(capture.text(), Not(HasSubstr(admin_token_.substr(18))));
}

// Failed logins: the first is logged with its reason (never the token), more within the
// interval are held back and counted in the next line after it.
TEST_F(AdminServiceAuditTest, AuthenticationFailuresAreRateLimited) {
  testing::LogCapture capture;
  std::string wrong = admin_token_;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Apply(wrong, "web").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  env_.clock.Advance(absl::Seconds(10));
  EXPECT_EQ(Apply(wrong, "web").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  std::vector<nlohmann::json> lines = capture.LinesWithMessage("admin authentication failed");
  ASSERT_THAT(lines, SizeIs(2)) << capture.text();
  EXPECT_EQ(lines[0]["level"], "warn");
  EXPECT_EQ(lines[0]["reason"], "unknown or revoked admin token");
  EXPECT_EQ(lines[0]["rpc"], "ApplyPolicy");
  EXPECT_EQ(lines[0]["suppressed"], 0);
  EXPECT_EQ(lines[1]["suppressed"], 2);
  EXPECT_THAT(capture.text(), Not(HasSubstr(wrong.substr(18))));
  EXPECT_THAT(capture.LinesWithMessage(kAuditMessage), SizeIs(0));
}

}  // namespace
}  // namespace fleet::server
