// RolloutTracker: counts per (policy, revision) follow assignments and live state as they
// change, with no scan and no flush, and a watcher waiting for a change wakes when one happens.
#include "server/control/rollout_tracker.h"

#include <string>
#include <thread>

#include "fleet/v1/admin.pb.h"
#include "gtest/gtest.h"

namespace fleet::server {
namespace {

record::AgentStatusRecord State(bool online, const std::string& policy, int64_t applied,
                                int64_t nacked = 0) {
  record::AgentStatusRecord state;
  state.set_status(online ? v1::AGENT_STATUS_ONLINE : v1::AGENT_STATUS_OFFLINE);
  state.set_policy(policy);
  state.set_applied_revision(applied);
  state.set_nacked_revision(nacked);
  return state;
}

void ExpectCounts(RolloutTracker& tracker, const std::string& policy, int64_t revision,
                  const RolloutCounts& want) {
  const RolloutCounts got = tracker.Count(policy, revision).first;
  EXPECT_EQ(got.agents, want.agents) << policy << "@" << revision;
  EXPECT_EQ(got.acked, want.acked) << policy << "@" << revision;
  EXPECT_EQ(got.nacked, want.nacked) << policy << "@" << revision;
  EXPECT_EQ(got.pending, want.pending) << policy << "@" << revision;
  EXPECT_EQ(got.pending_offline, want.pending_offline) << policy << "@" << revision;
  EXPECT_EQ(got.offline, want.offline) << policy << "@" << revision;
  EXPECT_EQ(got.acked + got.nacked + got.pending + got.pending_offline, got.agents)
      << policy << "@" << revision;
}

// Acked, refused, pending and offline agents are told apart per revision; a later revision
// applied counts as acked for an earlier one.
TEST(RolloutTrackerTest, CountsAckedNackedPendingOffline) {
  RolloutTracker tracker;
  for (const char* id : {"a", "b", "c", "d"}) tracker.AgentAssigned(id, "linux");
  tracker.AgentAssigned("w", "windows");
  tracker.StateChanged("a", State(true, "linux", 3));
  tracker.StateChanged("b", State(true, "linux", 1, 2));
  tracker.StateChanged("c", State(true, "linux", 1));
  // d never connected: offline and pending.
  ExpectCounts(
      tracker, "linux", 2,
      {.agents = 4, .acked = 1, .nacked = 1, .pending = 1, .pending_offline = 1, .offline = 1});
  ExpectCounts(tracker, "linux", 1, {.agents = 4, .acked = 3, .pending_offline = 1, .offline = 1});
  ExpectCounts(tracker, "windows", 1, {.agents = 1, .pending_offline = 1, .offline = 1});
}

// Going offline, being reassigned and being unenrolled move an agent's share at once; revisions
// of the policy it left do not count on the new one.
TEST(RolloutTrackerTest, OfflineReassignAndUnenrollMoveTheCounts) {
  RolloutTracker tracker;
  tracker.AgentAssigned("a", "linux");
  tracker.StateChanged("a", State(true, "linux", 5));
  ExpectCounts(tracker, "linux", 5, {.agents = 1, .acked = 1});
  tracker.StateChanged("a", State(false, "linux", 5));
  ExpectCounts(tracker, "linux", 5, {.agents = 1, .acked = 1, .offline = 1});
  ExpectCounts(tracker, "linux", 6, {.agents = 1, .pending_offline = 1, .offline = 1});
  tracker.StateChanged("a", State(true, "linux", 5));
  tracker.AgentAssigned("a", "windows");
  ExpectCounts(tracker, "linux", 5, {});
  ExpectCounts(tracker, "windows", 1, {.agents = 1, .pending = 1});
  tracker.StateChanged("a", State(true, "windows", 1));
  ExpectCounts(tracker, "windows", 1, {.agents = 1, .acked = 1});
  tracker.AgentAssigned("a", "");
  ExpectCounts(tracker, "windows", 1, {});
}

// An agent that acked and then disconnected still counts as acked, one that refused and
// disconnected as nacked, and an agent that never connected is pending offline: none is left
// out, so a rollout to agents that are all offline is not complete.
TEST(RolloutTrackerTest, OfflineAgentsKeepWhatTheyDid) {
  RolloutTracker tracker;
  for (const char* id : {"a", "b", "c"}) tracker.AgentAssigned(id, "linux");
  ExpectCounts(tracker, "linux", 1, {.agents = 3, .pending_offline = 3, .offline = 3});
  tracker.StateChanged("a", State(true, "linux", 2));
  tracker.StateChanged("a", State(false, "linux", 2));
  tracker.StateChanged("b", State(true, "linux", 1, 2));
  tracker.StateChanged("b", State(false, "linux", 1, 2));
  ExpectCounts(tracker, "linux", 2,
               {.agents = 3, .acked = 1, .nacked = 1, .pending_offline = 1, .offline = 3});
  // A later ack takes an agent out of nacked.
  tracker.StateChanged("b", State(true, "linux", 3, 2));
  ExpectCounts(tracker, "linux", 2, {.agents = 3, .acked = 2, .pending_offline = 1, .offline = 2});
}

// A state change reported before the directory knows the agent counts once it is assigned.
TEST(RolloutTrackerTest, StateBeforeAssignmentCountsOnceAssigned) {
  RolloutTracker tracker;
  tracker.StateChanged("a", State(true, "linux", 2));
  ExpectCounts(tracker, "linux", 2, {});
  tracker.AgentAssigned("a", "linux");
  ExpectCounts(tracker, "linux", 2, {.agents = 1, .acked = 1});
}

// A watcher waiting on a policy's version wakes when an agent of it acks, with no flush and no
// polling; the version of another policy is left alone.
TEST(RolloutTrackerTest, WaitersWakeOnChange) {
  RolloutTracker tracker;
  tracker.AgentAssigned("a", "linux");
  tracker.AgentAssigned("w", "windows");
  const int64_t linux = tracker.Count("linux", 1).second;
  const int64_t windows = tracker.Count("windows", 1).second;
  std::thread acker([&] { tracker.StateChanged("a", State(true, "linux", 1)); });
  const int64_t seen = tracker.AwaitChange("linux", linux, absl::Seconds(30));
  acker.join();
  EXPECT_NE(seen, linux);
  EXPECT_EQ(tracker.Count("windows", 1).second, windows);
  EXPECT_EQ(tracker.Count("linux", 1).first.acked, 1);
  tracker.PolicyChanged("windows");
  EXPECT_NE(tracker.Count("windows", 1).second, windows);
}

}  // namespace
}  // namespace fleet::server
