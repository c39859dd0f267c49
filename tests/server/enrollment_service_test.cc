// Enrollment on a MemoryStore: tokens are honored (revocation, expiry, use limits, also under
// concurrency), facts are validated, and the agent's secret is stored only as a hash.
#include "server/enrollment_service.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "server/agent_registry.h"
#include "server/enrollment_token_service.h"
#include "server/policy_service.h"
#include "tests/server/admin_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

class EnrollmentServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1::ApplyPolicyRequest policy;
    policy.set_name("linux");
    policy.set_spec_json("{}");
    ASSERT_OK(PolicyService(*env_.store, env_.clock, {}).Apply(policy, "t"));
  }

  std::string CreateToken(int64_t max_uses = 0, int64_t ttl_seconds = 0) {
    v1::CreateEnrollmentTokenRequest request;
    request.set_policy("linux");
    request.set_max_uses(max_uses);
    if (ttl_seconds > 0) request.mutable_ttl()->set_seconds(ttl_seconds);
    absl::StatusOr<v1::CreateEnrollmentTokenResponse> created = tokens_.Create(request, "t");
    EXPECT_OK(created);
    return created.ok() ? created->secret() : "";
  }

  static v1::EnrollRequest Request(const std::string& token, const std::string& hostname = "h1") {
    v1::EnrollRequest request;
    request.set_enrollment_token(token);
    request.mutable_facts()->set_hostname(hostname);
    request.mutable_facts()->set_os("linux");
    (*request.mutable_facts()->mutable_labels())["env"] = "prod";
    return request;
  }

  AdminTestEnv env_;
  EnrollmentTokenService tokens_{*env_.store, env_.clock};
  EnrollmentService enrollment_{*env_.store, env_.clock};
  AgentRegistry agents_{*env_.store, env_.clock, absl::Seconds(91)};
};

// A valid token enrolls an agent on the token's policy and counts one use.
TEST_F(EnrollmentServiceTest, EnrollsAnAgent) {
  std::string token = CreateToken();
  ASSERT_OK_AND_ASSIGN(v1::EnrollResponse enrolled, enrollment_.Enroll(Request(token)));
  EXPECT_EQ(enrolled.policy(), "linux");
  EXPECT_EQ(enrolled.agent_id().size(), 12u);
  EXPECT_EQ(enrolled.agent_secret().substr(0, 5), "fagt_");
  v1::GetAgentRequest get;
  get.set_id(enrolled.agent_id());
  ASSERT_OK_AND_ASSIGN(v1::Agent agent, agents_.Get(get));
  EXPECT_EQ(agent.hostname(), "h1");
  EXPECT_EQ(agent.policy(), "linux");
  EXPECT_EQ(agent.labels().at("env"), "prod");
  EXPECT_EQ(agent.status(), v1::AGENT_STATUS_OFFLINE);
  EXPECT_EQ(agent.enrollment_token_id(), token.substr(5, 12));
  ASSERT_OK_AND_ASSIGN(v1::ListEnrollmentTokensResponse listed, tokens_.List({}));
  EXPECT_EQ(listed.tokens(0).uses(), 1);
  ASSERT_OK_AND_ASSIGN(storage::RangeResult all, env_.store->Range({}));
  for (const storage::KeyValue& kv : all.kvs) {
    EXPECT_EQ(kv.value.find(enrolled.agent_secret().substr(18)), std::string::npos) << kv.key;
  }
}

// Malformed, unknown, wrong-secret, revoked and expired tokens are refused; nothing is written.
TEST_F(EnrollmentServiceTest, RefusesBadTokens) {
  std::string token = CreateToken(0, 60);
  std::string wrong = token;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  const int64_t before = env_.store->CurrentRevision();
  for (const std::string& bad : {std::string(""), std::string("fenr_x"), wrong,
                                 "fenr_000000000000_" + std::string(64, '0')}) {
    EXPECT_EQ(enrollment_.Enroll(Request(bad)).status().code(), absl::StatusCode::kUnauthenticated)
        << bad;
  }
  env_.clock.Advance(absl::Seconds(61));
  absl::Status expired = enrollment_.Enroll(Request(token)).status();
  EXPECT_EQ(expired.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(expired.message().find("expired"), std::string::npos) << expired;
  EXPECT_EQ(env_.store->CurrentRevision(), before);

  std::string revocable = CreateToken();
  v1::RevokeEnrollmentTokenRequest revoke;
  revoke.set_id(revocable.substr(5, 12));
  ASSERT_OK(tokens_.Revoke(revoke));
  absl::Status revoked = enrollment_.Enroll(Request(revocable)).status();
  EXPECT_EQ(revoked.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(revoked.message().find("revoked"), std::string::npos) << revoked;
}

// Bad facts are refused with the field named.
TEST_F(EnrollmentServiceTest, RefusesBadFacts) {
  std::string token = CreateToken();
  v1::EnrollRequest no_host = Request(token, "");
  absl::Status status = enrollment_.Enroll(no_host).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("hostname"), std::string::npos) << status;
  v1::EnrollRequest bad_label = Request(token);
  (*bad_label.mutable_facts()->mutable_labels())["no spaces"] = "x";
  EXPECT_EQ(enrollment_.Enroll(bad_label).status().code(), absl::StatusCode::kInvalidArgument);
}

// Agents enrolling at once never exceed a token's max_uses: exactly that many get in.
TEST_F(EnrollmentServiceTest, MaxUsesHoldsUnderConcurrency) {
  std::string token = CreateToken(/*max_uses=*/20);
  std::atomic<int> enrolled{0}, exhausted{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        absl::Status status = enrollment_.Enroll(Request(token)).status();
        if (status.ok()) {
          ++enrolled;
        } else if (status.code() == absl::StatusCode::kResourceExhausted) {
          ++exhausted;
        } else {
          ++other;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(enrolled.load(), 20);
  EXPECT_EQ(exhausted.load(), 20);
  EXPECT_EQ(other.load(), 0);
  ASSERT_OK_AND_ASSIGN(v1::ListAgentsResponse agents, agents_.List({}));
  EXPECT_EQ(agents.agents_size(), 20);
}

}  // namespace
}  // namespace fleet::server
