// ControlPlane on a MemoryStore that a previous fleetd left behind: what agents acked before the
// restart counts in rollout status as soon as Start returns, before any agent reconnects.
#include "server/app/control_plane.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/admin/policy_service.h"
#include "server/admin/rollout_status.h"
#include "server/model/records.pb.h"
#include "server/model/store_layout.h"
#include "storage/memory_store.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

// Right after a restart every agent is offline; the one that acked revision 1 counts as acked
// and the other as pending offline, so the rollout is not complete.
TEST(ControlPlaneTest, StatusAfterARestartCountsWhatAgentsAckedBefore) {
  std::unique_ptr<storage::Store> store = storage::NewMemoryStore();
  ManualClock clock(absl::FromUnixSeconds(1'800'000'000));
  {
    AgentDirectory unused(*store);
    PolicyService policies(*store, clock, {}, unused);
    v1::ApplyPolicyRequest apply;
    apply.set_name("linux");
    apply.set_spec_json("{}");
    ASSERT_OK(policies.Apply(apply, "t"));
  }
  for (const char* id : {"00000000000a", "00000000000b"}) {
    record::AgentRecord agent;
    agent.mutable_agent()->set_id(id);
    agent.mutable_agent()->set_policy("linux");
    ASSERT_OK(store->Txn(
        {.success = {storage::Op::Put(layout::AgentKey(id), agent.SerializeAsString())}}));
  }
  record::AgentStatusRecord acked;
  acked.set_status(v1::AGENT_STATUS_ONLINE);  // as the old fleetd last wrote it
  acked.set_policy("linux");
  acked.set_applied_revision(1);
  ASSERT_OK(
      store->PutState({{layout::AgentStatusKey("00000000000a"), acked.SerializeAsString()}}, {}));

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ControlPlane> plane,
                       ControlPlane::Start(*store, clock, {.flush_interval = absl::Hours(1)}));
  RolloutStatusService rollouts(*store, plane->rollouts());
  v1::GetRolloutStatusRequest request;
  request.set_policy("linux");
  ASSERT_OK_AND_ASSIGN(v1::RolloutStatus status, rollouts.Get(request));
  EXPECT_EQ(status.agents(), 2);
  EXPECT_EQ(status.acked(), 1);
  EXPECT_EQ(status.pending_offline(), 1);
  EXPECT_EQ(status.offline(), 2);
  EXPECT_FALSE(status.complete());
}

}  // namespace
}  // namespace fleet::server
