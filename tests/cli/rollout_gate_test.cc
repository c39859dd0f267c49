// The rollout gate's decision on RolloutStatus values alone, and its progress line.
#include "cli/rollout_gate.h"

#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

v1::RolloutStatus Status(int64_t acked, int64_t nacked, int64_t pending, int64_t pending_offline) {
  v1::RolloutStatus status;
  status.set_policy("linux-servers");
  status.set_revision(3);
  status.set_latest_revision(3);
  status.set_acked(acked);
  status.set_nacked(nacked);
  status.set_pending(pending);
  status.set_pending_offline(pending_offline);
  status.set_agents(acked + nacked + pending + pending_offline);
  status.set_complete(status.agents() == acked);
  return status;
}

GateVerdict Verdict(const v1::RolloutStatus& status, GateOptions options = {}) {
  return DecideRollout(status, options).verdict;
}

// Only every assigned agent having acked passes; anyone still pending, online or not, waits.
TEST(DecideRolloutTest, PassesOnlyWhenEveryAgentAcked) {
  EXPECT_EQ(Verdict(Status(300, 0, 0, 0)), GateVerdict::kPassed);
  EXPECT_EQ(Verdict(Status(299, 0, 1, 0)), GateVerdict::kWaiting);
  EXPECT_EQ(Verdict(Status(299, 0, 0, 1)), GateVerdict::kWaiting);
  // The finding: every assigned agent offline, none acked ("0/0 acked, 300 offline").
  EXPECT_EQ(Verdict(Status(0, 0, 0, 300)), GateVerdict::kWaiting);
  // Right after a restart, everyone reconnecting.
  EXPECT_EQ(Verdict(Status(0, 0, 300, 0)), GateVerdict::kWaiting);
}

// Acked agents that went offline still count as acked (acked is online or not).
TEST(DecideRolloutTest, AckedAgentsCountOnceOffline) {
  v1::RolloutStatus status = Status(10, 0, 0, 0);
  status.set_offline(10);
  EXPECT_EQ(Verdict(status), GateVerdict::kPassed);
}

// One nack too many fails at once, even with agents still pending; up to --max-nacked waits.
TEST(DecideRolloutTest, NacksBeyondMaxNackedFail) {
  EXPECT_EQ(Verdict(Status(1, 1, 98, 0)), GateVerdict::kFailed);
  EXPECT_EQ(Verdict(Status(1, 2, 97, 0), {.max_nacked = 2}), GateVerdict::kWaiting);
  EXPECT_EQ(Verdict(Status(1, 3, 96, 0), {.max_nacked = 2}), GateVerdict::kFailed);
  EXPECT_EQ(Verdict(Status(98, 2, 0, 0), {.max_nacked = 2}), GateVerdict::kPassed);
  EXPECT_EQ(Verdict(Status(98, 2, 0, 0)), GateVerdict::kFailed);
}

// --ignore-offline leaves pending offline agents out and says how many.
TEST(DecideRolloutTest, IgnoreOfflineLeavesPendingOfflineOut) {
  const GateOptions ignore{.ignore_offline = true};
  const GateDecision decision = DecideRollout(Status(250, 0, 0, 50), ignore);
  EXPECT_EQ(decision.verdict, GateVerdict::kPassed);
  EXPECT_EQ(decision.left_out, 50);
  EXPECT_EQ(Verdict(Status(250, 0, 1, 49), ignore), GateVerdict::kWaiting);
  EXPECT_EQ(DecideRollout(Status(300, 0, 0, 0), ignore).left_out, 0);
}

// No agent assigned passes, flagged so that the caller says there was nothing to wait for.
TEST(DecideRolloutTest, NoAgentsPassesAndSaysSo) {
  const GateDecision decision = DecideRollout(Status(0, 0, 0, 0), {});
  EXPECT_EQ(decision.verdict, GateVerdict::kPassed);
  EXPECT_TRUE(decision.no_agents);
  EXPECT_FALSE(DecideRollout(Status(1, 0, 0, 0), {}).no_agents);
}

// Counts that do not add up (a fleetd that does not count pending_offline) never pass, whatever
// `complete` says.
TEST(DecideRolloutTest, InconsistentCountsNeverPass) {
  v1::RolloutStatus old_server = Status(0, 0, 0, 0);
  old_server.set_agents(300);
  old_server.set_offline(300);
  old_server.set_complete(true);
  EXPECT_EQ(Verdict(old_server), GateVerdict::kWaiting);
  EXPECT_EQ(Verdict(old_server, {.ignore_offline = true}), GateVerdict::kWaiting);
  v1::RolloutStatus too_many = Status(10, 0, 0, 0);
  too_many.set_agents(5);
  EXPECT_EQ(Verdict(too_many), GateVerdict::kWaiting);
}

// The progress line names the policy, the revision, the percentage acked and the elapsed time.
TEST(RolloutProgressTest, Format) {
  EXPECT_EQ(RolloutProgress(Status(9812, 3, 120, 65), absl::Seconds(90) + absl::Milliseconds(400)),
            "policy linux-servers rev 3: 98% acked (9,812/10,000), 3 nacked, 120 pending, 65 "
            "pending offline, 1m30s elapsed");
  // Rounded down: 100% only when all acked.
  EXPECT_EQ(RolloutProgress(Status(999, 0, 1, 0), absl::ZeroDuration()),
            "policy linux-servers rev 3: 99% acked (999/1,000), 0 nacked, 1 pending, 0 pending "
            "offline, 0 elapsed");
  EXPECT_EQ(RolloutProgress(Status(0, 0, 0, 0), absl::Seconds(2)),
            "policy linux-servers rev 3: no agent assigned, 2s elapsed");
}

}  // namespace
}  // namespace fleet::cli
