// How an agent's live state shows in the admin views (agent_status_view.h): online only while its
// state says so and its last-seen time is within OfflineAfter(), which allows for the lag of a
// shared store's coarse last-seen writes.
#include "server/model/agent_status_view.h"

#include "gtest/gtest.h"

namespace fleet::server {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

record::AgentStatusRecord SeenAgo(absl::Duration ago) {
  record::AgentStatusRecord state;
  state.set_status(v1::AGENT_STATUS_ONLINE);
  state.set_last_seen_unix_micros(absl::ToUnixMicros(kNow - ago));
  return state;
}

v1::AgentStatus Shown(const record::AgentStatusRecord& state, absl::Duration offline_after) {
  v1::Agent agent;
  MergeAgentState(&state, kNow, offline_after, agent);
  return agent.status();
}

TEST(AgentStatusViewTest, OnlineUntilThreeHeartbeatsAreMissed) {
  EXPECT_EQ(Shown(SeenAgo(absl::Seconds(90)), OfflineAfter(absl::Seconds(30))),
            v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(Shown(SeenAgo(absl::Seconds(92)), OfflineAfter(absl::Seconds(30))),
            v1::AGENT_STATUS_OFFLINE);
}

// A replica of a shared store writes a heartbeat-only change once a minute: another replica's
// agent last seen 62 s ago, with 1 s heartbeats, is still online there, and offline past the lag.
TEST(AgentStatusViewTest, LastSeenLagKeepsCoarselyWrittenAgentsOnline) {
  const absl::Duration lag = absl::Minutes(1) + absl::Seconds(2);
  EXPECT_EQ(Shown(SeenAgo(absl::Seconds(62)), OfflineAfter(absl::Seconds(1))),
            v1::AGENT_STATUS_OFFLINE);
  EXPECT_EQ(Shown(SeenAgo(absl::Seconds(62)), OfflineAfter(absl::Seconds(1), lag)),
            v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(Shown(SeenAgo(absl::Seconds(67)), OfflineAfter(absl::Seconds(1), lag)),
            v1::AGENT_STATUS_OFFLINE);
}

TEST(AgentStatusViewTest, NeverSeenIsOffline) {
  v1::Agent agent;
  MergeAgentState(nullptr, kNow, OfflineAfter(absl::Seconds(30)), agent);
  EXPECT_EQ(agent.status(), v1::AGENT_STATUS_OFFLINE);
}

}  // namespace
}  // namespace fleet::server
