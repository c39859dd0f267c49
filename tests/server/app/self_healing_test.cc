// A whole fleetd (FleetdServer, in process) on a store that fails on demand, with a real agent on
// a real Connect stream: after the store's watches break mid-stream, fall behind a compaction, or
// the store is unavailable for a while, a policy change committed during or after the failure
// still reaches the connected agent, and the fleetd is synced again.
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "server/admin/enrollment_token_service.h"
#include "server/admin/policy_service.h"
#include "server/app/fleetd_server.h"
#include "server/control/agent_directory.h"
#include "storage/memory_store.h"
#include "tests/testing/fault_injecting_store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_agent.h"

namespace fleet::server {
namespace {

class SelfHealingTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_OK(Apply("one"));
    v1::CreateEnrollmentTokenRequest token;
    token.set_policy("linux");
    ASSERT_OK_AND_ASSIGN(v1::CreateEnrollmentTokenResponse created,
                         EnrollmentTokenService(*memory_, Clock::Real()).Create(token, "test"));
    auto faulty = std::make_unique<fleet::testing::FaultInjectingStore>(*memory_);
    faulty_ = faulty.get();
    ASSERT_OK_AND_ASSIGN(server_, FleetdServer::Start({.data_dir = tmp_.Sub("data"),
                                                       .admin_addr = "127.0.0.1:0",
                                                       .agent_addr = "127.0.0.1:0",
                                                       .http_addr = "127.0.0.1:0"},
                                                      std::move(faulty)));
    v1::EnrollResponse identity;
    grpc::Status enrolled =
        fleet::testing::EnrollAgent(server_->agent_address(), created.secret(), "web", &identity);
    ASSERT_TRUE(enrolled.ok()) << enrolled.error_message();
    agent_ = std::make_unique<fleet::testing::TestAgent>(server_->agent_address(), identity);
    ASSERT_TRUE(agent_->Hello());
    std::optional<v1::PolicyUpdate> first = agent_->ApplyNext();
    ASSERT_TRUE(first.has_value());
    ASSERT_EQ(first->target_revision(), 1);
  }

  // Commits a new revision of "linux" straight to the store under the faults, as a replica
  // whose store path works would. The notes that never change make the document bigger than a
  // patch of the level, so changes come as DELTAs.
  absl::Status Apply(const std::string& level) {
    v1::ApplyPolicyRequest request;
    request.set_name("linux");
    request.set_spec_json(
        absl::StrCat(R"({"level":")", level, R"(","notes":")", std::string(200, 'n'), R"("})"));
    return policies_.Apply(request, "test").status();
  }

  fleet::testing::TempDir tmp_;
  // Outlives the server, which holds `faulty_`, a wrapper of it.
  std::unique_ptr<storage::Store> memory_ = storage::NewMemoryStore();
  AgentDirectory unused_directory_{*memory_};  // only deleting a policy counts agents
  PolicyService policies_{*memory_, Clock::Real(), {}, unused_directory_};
  fleet::testing::FaultInjectingStore* faulty_ = nullptr;  // owned by server_
  std::unique_ptr<FleetdServer> server_;
  std::unique_ptr<fleet::testing::TestAgent> agent_;
};

TEST_P(SelfHealingTest, PolicyPushesReachConnectedAgentsAfterStoreFailures) {
  const std::string fault = GetParam();
  ASSERT_OK(faulty_->InjectWatchFault(fault));
  ASSERT_OK(Apply("during"));
  if (fault == "unavailable") {
    absl::SleepFor(absl::Milliseconds(300));  // a while: several failed listings
    faulty_->SetUnavailable(false);
  }
  std::optional<v1::PolicyUpdate> during = agent_->ApplyNext();
  ASSERT_TRUE(during.has_value());
  EXPECT_EQ(during->target_revision(), 2);
  EXPECT_EQ(during->kind(), v1::PolicyUpdate::DELTA);
  ASSERT_OK(Apply("after"));
  std::optional<v1::PolicyUpdate> after = agent_->ApplyNext();
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->target_revision(), 3);
  EXPECT_GE(faulty_->watches_started(), 3);  // every follower of the store watched again
  EXPECT_EQ(agent_->End().error_code(), grpc::StatusCode::OK);
}

INSTANTIATE_TEST_SUITE_P(Faults, SelfHealingTest,
                         ::testing::ValuesIn(fleet::testing::FaultInjectingStore::WatchFaults()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace fleet::server
