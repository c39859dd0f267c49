// What the agent API logs: each enrollment, refusals with their reason at a bounded rate and
// never the token's secret, and the counts behind the agent connections summary line.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/admin/enrollment_token_service.h"
#include "server/admin/policy_service.h"
#include "server/agent/agent_hub.h"
#include "server/agent/connection_log.h"
#include "server/agent/enrollment_service.h"
#include "server/app/connection_summary.h"
#include "tests/server/admin_test_env.h"
#include "tests/testing/log_capture.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::SizeIs;

class EnrollmentLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1::ApplyPolicyRequest policy;
    policy.set_name("linux");
    policy.set_spec_json("{}");
    ASSERT_OK(PolicyService(*env_.store, env_.clock, {}, env_.directory).Apply(policy, "t"));
    v1::CreateEnrollmentTokenRequest request;
    request.set_policy("linux");
    request.set_max_uses(1);
    ASSERT_OK_AND_ASSIGN(v1::CreateEnrollmentTokenResponse created, tokens_.Create(request, "t"));
    token_ = created.secret();
    token_id_ = created.token().id();
  }

  absl::StatusOr<v1::EnrollResponse> Enroll(const std::string& hostname) {
    v1::EnrollRequest request;
    request.set_enrollment_token(token_);
    request.mutable_facts()->set_hostname(hostname);
    return enrollment_.Enroll(request);
  }

  AdminTestEnv env_;
  EnrollmentTokenService tokens_{*env_.store, env_.clock};
  EnrollmentService enrollment_{*env_.store, env_.clock};
  std::string token_;
  std::string token_id_;
};

// An enrollment is one info line naming the agent, its policy and the token by id.
TEST_F(EnrollmentLogTest, EnrollmentIsLogged) {
  testing::LogCapture capture;
  ASSERT_OK_AND_ASSIGN(v1::EnrollResponse enrolled, Enroll("web-1"));
  std::vector<nlohmann::json> lines = capture.LinesWithMessage("agent enrolled");
  ASSERT_THAT(lines, SizeIs(1)) << capture.text();
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["agent_id"], enrolled.agent_id());
  EXPECT_EQ(lines[0]["policy"], "linux");
  EXPECT_EQ(lines[0]["token_id"], token_id_);
  EXPECT_EQ(lines[0]["hostname"], "web-1");
  EXPECT_THAT(capture.text(), Not(HasSubstr(enrolled.agent_secret())));
}

// A spent token's refusals: the first logged with its reason, the next ones within the interval
// counted into the line after it; the token's secret never appears.
TEST_F(EnrollmentLogTest, RefusalsAreLoggedWithReasonAndRateLimited) {
  ASSERT_OK(Enroll("web-1"));
  testing::LogCapture capture;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Enroll("web-2").status().code(), absl::StatusCode::kResourceExhausted);
  }
  env_.clock.Advance(absl::Seconds(10));
  EXPECT_FALSE(Enroll("web-3").ok());
  std::vector<nlohmann::json> lines = capture.LinesWithMessage("enrollment refused");
  ASSERT_THAT(lines, SizeIs(2)) << capture.text();
  EXPECT_EQ(lines[0]["level"], "warn");
  EXPECT_EQ(lines[0]["code"], "RESOURCE_EXHAUSTED");
  EXPECT_THAT(lines[0]["reason"].get<std::string>(), HasSubstr("uses are spent"));
  EXPECT_EQ(lines[0]["token_id"], token_id_);
  EXPECT_EQ(lines[0]["suppressed"], 0);
  EXPECT_EQ(lines[1]["suppressed"], 2);
  EXPECT_EQ(lines[1]["hostname"], "web-3");
  EXPECT_THAT(capture.text(), Not(HasSubstr(token_.substr(18))));
}

// Connects and disconnects are debug lines, counted until the summary takes the counts.
TEST(AgentConnectionLogTest, CountsUntilTaken) {
  testing::LogCapture capture;
  AgentConnectionLog log;
  log.Connected("a1", "linux");
  log.Connected("a2", "linux");
  log.Disconnected("a1", /*replaced=*/true);
  AgentConnectionLog::Counts counts = log.Take();
  EXPECT_EQ(counts.connects, 2);
  EXPECT_EQ(counts.disconnects, 1);
  EXPECT_EQ(log.Take().connects, 0);
  std::vector<nlohmann::json> connected = capture.LinesWithMessage("agent connected");
  ASSERT_THAT(connected, SizeIs(2));
  EXPECT_EQ(connected[0]["level"], "debug");
  EXPECT_EQ(connected[0]["agent_id"], "a1");
  std::vector<nlohmann::json> disconnected = capture.LinesWithMessage("agent disconnected");
  ASSERT_THAT(disconnected, SizeIs(1));
  EXPECT_EQ(disconnected[0]["replaced"], true);
}

// The summary line says how many streams are open now and the counts since the last line.
TEST(ConnectionSummaryTest, LogsTheHubsCounts) {
  AdminTestEnv env;
  AgentHub hub(env.directory);
  ConnectionSummary summary(hub, absl::Hours(1));
  hub.connection_log().Connected("a1", "linux");
  hub.connection_log().Disconnected("a1", false);
  hub.connection_log().Connected("a2", "linux");
  testing::LogCapture capture;
  summary.LogNow();
  summary.LogNow();
  std::vector<nlohmann::json> lines = capture.LinesWithMessage("agent connections");
  ASSERT_THAT(lines, SizeIs(2));
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["connected"], 0);  // no session registered with the hub
  EXPECT_EQ(lines[0]["connects"], 2);
  EXPECT_EQ(lines[0]["disconnects"], 1);
  EXPECT_EQ(lines[1]["connects"], 0);
}

}  // namespace
}  // namespace fleet::server
