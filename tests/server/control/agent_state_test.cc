// AgentStateTracker on a MemoryStore: what agents report reaches the unlogged state on Flush,
// whichever shard and thread it came through, and a forgotten agent's state is not written.
#include "server/control/agent_state.h"

#include <string>
#include <thread>
#include <tuple>
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
const AgentStateOptions kManualFlush{.flush_interval = absl::Hours(1)};

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

// Keeps what a shared store's tracker publishes, flush by flush.
class RecordingPublisher final : public AgentStatePublisher {
 public:
  absl::Status Publish(
      const std::vector<std::pair<std::string, record::AgentStatusRecord>>& states) override {
    for (const auto& [id, state] : states) published[id] = state;
    ++flushes;
    return absl::OkStatus();
  }
  std::map<std::string, record::AgentStatusRecord> published;
  int flushes = 0;
};

// Replica "r1" of a shared store: its tracker on a memory store, publishing to a recorder.
class Replica {
 public:
  explicit Replica(AgentStateObserver* observer = nullptr)
      : tracker_(*store_, clock_, Options(), observer) {
    tracker_.SetPublisher(&publisher_);
  }
  std::tuple<storage::Store&, ManualClock&, RecordingPublisher&, AgentStateTracker&> parts() {
    return {*store_, clock_, publisher_, tracker_};
  }

 private:
  static AgentStateOptions Options() {
    AgentStateOptions options = kManualFlush;
    options.replica = "r1";
    return options;
  }
  std::unique_ptr<storage::Store> store_ = storage::NewMemoryStore();
  ManualClock clock_{absl::FromUnixSeconds(1'000'000)};
  RecordingPublisher publisher_;  // outlives the tracker, which flushes as it goes
  AgentStateTracker tracker_;
};

record::AgentStatusRecord HeldBy(const std::string& replica, v1::AgentStatus status,
                                 int64_t applied = 0, absl::Time claimed = absl::InfinitePast()) {
  record::AgentStatusRecord state;
  state.set_replica(replica);
  state.set_status(status);
  state.set_applied_revision(applied);
  if (claimed != absl::InfinitePast()) state.set_claimed_unix_micros(absl::ToUnixMicros(claimed));
  return state;
}

void Connect(AgentStateTracker& tracker, const std::string& id) {
  tracker.Claim(
      id, [](record::AgentStatusRecord& state) { state.set_status(v1::AGENT_STATUS_ONLINE); });
}

// On a shared store a replica publishes the agents it holds, marked as its own, and not the
// agents other replicas hold; another replica's records count in its view.
TEST(AgentStateTrackerTest, SharedStorePublishesWhatThisReplicaHolds) {
  Replica replica;
  auto [store, clock, publisher, tracker] = replica.parts();

  Connect(tracker, "here");
  EXPECT_FALSE(tracker.ApplyRemote("there", HeldBy("r2", v1::AGENT_STATUS_ONLINE, 7)));
  ASSERT_OK(tracker.Flush());
  ASSERT_EQ(publisher.published.size(), 1u);
  EXPECT_EQ(publisher.published.at("here").replica(), "r1");
  EXPECT_EQ(tracker.Get("there")->applied_revision(), 7);
  EXPECT_TRUE(tracker.IsOnline("here"));
  EXPECT_FALSE(tracker.IsOnline("there"));  // online, but not through a stream of this replica
  EXPECT_FALSE(Stored(store).contains("there"));  // only the holder writes an agent's state
}

// Another replica's newer claim takes an agent over: the stream here must end, and its late
// words (the stream's end, a heartbeat) change nothing; a stale "offline" from a replica that
// held it before is answered by publishing this replica's state again.
TEST(AgentStateTrackerTest, SharedStoreTakeOverAndStaleWords) {
  Replica replica;
  auto [store, clock, publisher, tracker] = replica.parts();

  Connect(tracker, "a");
  ASSERT_OK(tracker.Flush());
  publisher.published.clear();
  EXPECT_FALSE(tracker.ApplyRemote("a", HeldBy("r0", v1::AGENT_STATUS_OFFLINE)));
  ASSERT_OK(tracker.Flush());
  ASSERT_TRUE(publisher.published.contains("a"));  // r1's word again
  EXPECT_EQ(tracker.Get("a")->replica(), "r1");

  // A claim older than r1's, landing late, is stale: r1 answers with its own state again.
  const absl::Time claimed = clock.Now();
  publisher.published.clear();
  EXPECT_FALSE(tracker.ApplyRemote(
      "a", HeldBy("r0", v1::AGENT_STATUS_ONLINE, 1, claimed - absl::Seconds(1))));
  ASSERT_OK(tracker.Flush());
  ASSERT_TRUE(publisher.published.contains("a"));
  EXPECT_EQ(tracker.Get("a")->replica(), "r1");

  EXPECT_TRUE(tracker.ApplyRemote(
      "a", HeldBy("r2", v1::AGENT_STATUS_ONLINE, 3, claimed + absl::Seconds(1))));
  // r0's stale word about the agent r2 holds now changes nothing either.
  EXPECT_FALSE(tracker.ApplyRemote(
      "a", HeldBy("r0", v1::AGENT_STATUS_ONLINE, 9, claimed - absl::Seconds(1))));
  publisher.published.clear();
  tracker.Update(
      "a", [](record::AgentStatusRecord& state) { state.set_status(v1::AGENT_STATUS_OFFLINE); });
  ASSERT_OK(tracker.Flush());
  EXPECT_TRUE(publisher.published.empty());
  EXPECT_EQ(tracker.Get("a")->status(), v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(tracker.Get("a")->replica(), "r2");
  EXPECT_EQ(tracker.Get("a")->applied_revision(), 3);

  // It comes back here: this replica holds it again.
  Connect(tracker, "a");
  EXPECT_TRUE(tracker.IsOnline("a"));
  EXPECT_EQ(tracker.Get("a")->replica(), "r1");
}

// When the record of an agent another replica held goes (its lease ended) the agent is offline,
// what it applied still counts; a listing without it does the same. Our own record going is
// answered by publishing it again.
TEST(AgentStateTrackerTest, SharedStoreGoneRecordsAreOffline) {
  RolloutTracker rollouts;
  Replica replica(&rollouts);
  auto [store, clock, publisher, tracker] = replica.parts();

  tracker.ApplyRemote("b", HeldBy("r2", v1::AGENT_STATUS_ONLINE, 4));
  tracker.ApplyRemote("c", HeldBy("r2", v1::AGENT_STATUS_ONLINE, 4));
  Connect(tracker, "mine");
  ASSERT_OK(tracker.Flush());
  publisher.published.clear();

  tracker.RemoteGone("b");
  EXPECT_EQ(tracker.Get("b")->status(), v1::AGENT_STATUS_OFFLINE);
  EXPECT_EQ(tracker.Get("b")->applied_revision(), 4);
  EXPECT_TRUE(tracker.ReplaceRemote({}).empty());
  EXPECT_EQ(tracker.Get("c")->status(), v1::AGENT_STATUS_OFFLINE);

  tracker.RemoteGone("mine");
  EXPECT_TRUE(tracker.IsOnline("mine"));
  ASSERT_OK(tracker.Flush());
  EXPECT_TRUE(publisher.published.contains("mine"));
}

// With a last-seen write interval, a heartbeat alone is written once per interval; any other
// change is written with the next flush.
TEST(AgentStateTrackerTest, HeartbeatsAreWrittenOncePerInterval) {
  std::unique_ptr<storage::Store> store = storage::NewMemoryStore();
  ManualClock clock(absl::FromUnixSeconds(1'000'000));
  AgentStateOptions options = kManualFlush;
  options.last_seen_write_interval = absl::Minutes(1);
  AgentStateTracker tracker(*store, clock, options);
  auto heartbeat = [](record::AgentStatusRecord&) {};
  tracker.Update("a", heartbeat);
  ASSERT_OK(tracker.Flush());
  const int64_t first = Stored(*store).at("a").last_seen_unix_micros();

  clock.Advance(absl::Seconds(30));
  tracker.Update("a", heartbeat);
  ASSERT_OK(tracker.Flush());
  EXPECT_EQ(Stored(*store).at("a").last_seen_unix_micros(), first);  // not written
  EXPECT_EQ(tracker.Get("a")->last_seen_unix_micros(), absl::ToUnixMicros(clock.Now()));

  tracker.Update("a", [](record::AgentStatusRecord& state) { state.set_applied_revision(2); });
  ASSERT_OK(tracker.Flush());
  EXPECT_EQ(Stored(*store).at("a").applied_revision(), 2);  // a change: written at once

  clock.Advance(absl::Seconds(61));
  tracker.Update("a", heartbeat);
  ASSERT_OK(tracker.Flush());
  EXPECT_EQ(Stored(*store).at("a").last_seen_unix_micros(), absl::ToUnixMicros(clock.Now()));
}

}  // namespace
}  // namespace fleet::server
