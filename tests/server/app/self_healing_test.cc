// A whole fleetd (FleetdServer, in process) on a store that fails on demand, with a real agent on
// a real Connect stream: after the store's watches break mid-stream, fall behind a compaction, or
// the store is unavailable for a while, a policy change committed during or after the failure
// still reaches the connected agent, and the fleetd is synced again.
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/faulty_fleetd.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

class SelfHealingTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(fleetd_.Start(Spec("one")));
    ASSERT_EQ(fleetd_.first_update().target_revision(), 1);
  }

  // A spec of "linux" at `level`. The notes that never change make the document bigger than a
  // patch of the level, so changes come as DELTAs.
  static std::string Spec(const std::string& level) {
    return absl::StrCat(R"({"level":")", level, R"(","notes":")", std::string(200, 'n'), R"("})");
  }

  fleet::testing::FaultyFleetd fleetd_;
};

TEST_P(SelfHealingTest, PolicyPushesReachConnectedAgentsAfterStoreFailures) {
  const std::string fault = GetParam();
  ASSERT_OK(fleetd_.faults().InjectWatchFault(fault));
  ASSERT_OK(fleetd_.Apply(Spec("during")));
  if (fault == "unavailable") {
    absl::SleepFor(absl::Milliseconds(300));  // a while: several failed listings
    fleetd_.faults().SetUnavailable(false);
  }
  std::optional<v1::PolicyUpdate> during = fleetd_.agent().ApplyNext();
  ASSERT_TRUE(during.has_value());
  EXPECT_EQ(during->target_revision(), 2);
  EXPECT_EQ(during->kind(), v1::PolicyUpdate::DELTA);
  ASSERT_OK(fleetd_.Apply(Spec("after")));
  std::optional<v1::PolicyUpdate> after = fleetd_.agent().ApplyNext();
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->target_revision(), 3);
  EXPECT_GE(fleetd_.faults().watches_started(), 3);  // every follower of the store watched again
  EXPECT_EQ(fleetd_.agent().End().error_code(), grpc::StatusCode::OK);
}

INSTANTIATE_TEST_SUITE_P(Faults, SelfHealingTest,
                         ::testing::ValuesIn(fleet::testing::FaultInjectingStore::WatchFaults()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace fleet::server
