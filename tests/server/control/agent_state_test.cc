// AgentStateTracker on a MemoryStore: what agents report reaches the unlogged state on Flush,
// whichever shard and thread it came through, and a forgotten agent's state is not written.
#include "server/control/agent_state.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/control/rollout_tracker.h"
#include "server/model/store_layout.h"
#include "storage/memory_store.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

// Flushes only when asked.
constexpr AgentStateOptions kManualFlush{.flush_interval = absl::Hours(1)};

std::map<std::string, record::AgentStatusRecord> Stored(storage::Store& store) {
  std::map<std::string, record::AgentStatusRecord> stored;
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> range =
      store.RangeState(layout::kAgentStatus);
  EXPECT_TRUE(range.ok()) << range.status();
  if (!range.ok()) return stored;
  for (const auto& [key, value] : *range) {
    record::AgentStatusRecord state;
    EXPECT_TRUE(state.ParseFromString(value));
    stored[key.substr(std::string(layout::kAgentStatus).size())] = state;
  }
  return stored;
}

TEST(AgentStateTrackerTest, UpdatesFromManyThreadsAllReachTheStoreOnFlush) {
  std::unique_ptr<storage::Store> store = storage::NewMemoryStore();
  ManualClock clock(absl::FromUnixSeconds(1'000'000));
  AgentStateTracker tracker(*store, clock, kManualFlush);
  constexpr int kThreads = 8;
  constexpr int kAgentsPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kAgentsPerThread; ++i) {
        const std::string id = absl::StrCat("agent-", t, "-", i);
        tracker.Update(id, [&](record::AgentStatusRecord& state) {
          state.set_status(v1::AGENT_STATUS_ONLINE);
          state.set_applied_revision(i);
        });
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_TRUE(Stored(*store).empty());  // nothing before the flush

  ASSERT_OK(tracker.Flush());
  const auto stored = Stored(*store);
  ASSERT_EQ(stored.size(), static_cast<size_t>(kThreads * kAgentsPerThread));
  const record::AgentStatusRecord& one = stored.at("agent-3-42");
  EXPECT_EQ(one.status(), v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(one.applied_revision(), 42);
  EXPECT_EQ(one.last_seen_unix_micros(), absl::ToUnixMicros(clock.Now()));
}

TEST(AgentStateTrackerTest, LaterChangesBuildOnTheStateAndAreWrittenByTheNextFlush) {
  std::unique_ptr<storage::Store> store = storage::NewMemoryStore();
  ManualClock clock(absl::FromUnixSeconds(1'000'000));
  AgentStateTracker tracker(*store, clock, kManualFlush);
  tracker.Update("a", [](record::AgentStatusRecord& state) { state.set_applied_revision(1); });
  ASSERT_OK(tracker.Flush());
  clock.Advance(absl::Seconds(5));
  tracker.Update("a", [](record::AgentStatusRecord& state) { state.set_nacked_revision(2); });
  ASSERT_OK(tracker.Flush());
  const record::AgentStatusRecord a = Stored(*store).at("a");
  EXPECT_EQ(a.applied_revision(), 1);  // kept from the first change
  EXPECT_EQ(a.nacked_revision(), 2);
  EXPECT_EQ(a.last_seen_unix_micros(), absl::ToUnixMicros(clock.Now()));
}

TEST(AgentStateTrackerTest, ForgottenAgentIsNotWritten) {
  std::unique_ptr<storage::Store> store = storage::NewMemoryStore();
  ManualClock clock(absl::FromUnixSeconds(1'000'000));
  AgentStateTracker tracker(*store, clock, kManualFlush);
  tracker.Update("kept", [](record::AgentStatusRecord&) {});
  tracker.Update("gone", [](record::AgentStatusRecord&) {});
  tracker.Forget("gone");
  ASSERT_OK(tracker.Flush());
  const auto stored = Stored(*store);
  EXPECT_TRUE(stored.contains("kept"));
  EXPECT_FALSE(stored.contains("gone"));
}

// After a restart the loaded states reach the rollout tracker: an agent that acked before it
// counts as acked while offline, so rollout status right after a restart is not "complete with
// nothing acked".
TEST(AgentStateTrackerTest, LoadedStatesReachTheObserver) {
  std::unique_ptr<storage::Store> store = storage::NewMemoryStore();
  ManualClock clock(absl::FromUnixSeconds(1'000'000));
  {
    AgentStateTracker before(*store, clock, kManualFlush);
    for (const char* id : {"a", "b"}) {
      before.Update(id, [&](record::AgentStatusRecord& state) {
        state.set_status(v1::AGENT_STATUS_ONLINE);
        state.set_policy("linux");
        state.set_applied_revision(id == std::string("a") ? 2 : 1);
      });
    }
    ASSERT_OK(before.Flush());
  }
  RolloutTracker rollouts;
  rollouts.AgentAssigned("a", "linux");
  rollouts.AgentAssigned("b", "linux");
  AgentStateTracker after(*store, clock, kManualFlush, &rollouts);
  ASSERT_OK(after.Load());
  const RolloutCounts counts = rollouts.Count("linux", 2).first;
  EXPECT_EQ(counts.agents, 2);
  EXPECT_EQ(counts.acked, 1);
  EXPECT_EQ(counts.pending_offline, 1);
  EXPECT_EQ(counts.offline, 2);
}

// A stored state whose nack reason was cut inside a character (by an older fleetd) is loaded
// with U+FFFD in its place, its revisions kept, instead of being dropped.
TEST(AgentStateTrackerTest, LoadRepairsIllFormedUtf8) {
  std::unique_ptr<storage::Store> store = storage::NewMemoryStore();
  ManualClock clock(absl::FromUnixSeconds(1'000'000));
  record::AgentStatusRecord cut;
  cut.set_policy("linux");
  cut.set_applied_revision(4);
  cut.set_nack_reason(std::string(1023, 'x') + "\xe2\x82");
  ASSERT_OK(store->PutState({{layout::AgentStatusKey("a"), cut.SerializeAsString()},
                             {layout::AgentStatusKey("b"), "\xff\xff\xff"}},
                            {}));
  AgentStateTracker tracker(*store, clock, kManualFlush);
  ASSERT_OK(tracker.Load());
  std::optional<record::AgentStatusRecord> loaded = tracker.Get("a");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->applied_revision(), 4);
  EXPECT_EQ(loaded->nack_reason(), std::string(1023, 'x') + "\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_FALSE(tracker.Get("b").has_value());
}

}  // namespace
}  // namespace fleet::server
