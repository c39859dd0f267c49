// ActionResultWriter on a MemoryStore: a final state goes with the next flush, a state on the way
// waits up to the hold for the target's next change (and is then written once, as it is last),
// one that keeps changing is still written within the hold, and Flush writes everything.
#include "server/control/action_results.h"

#include <memory>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/model/records.pb.h"
#include "storage/memory_store.h"
#include "storage/store_wrapper.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

constexpr absl::Duration kFlushInterval = absl::Milliseconds(10);
constexpr absl::Duration kWait = absl::Seconds(10);

record::ActionResultRecord Result(v1::ActionTargetState state, int progress = 0) {
  record::ActionResultRecord result;
  result.set_state(state);
  result.set_progress_percent(progress);
  return result;
}

class ActionResultWriterTest : public ::testing::Test {
 protected:
  // The stored result of agent `agent` of action "act1"; nullopt while none is.
  std::optional<record::ActionResultRecord> Stored(const std::string& agent) {
    absl::StatusOr<StoredActionResults> results = LoadActionResults(*store_);
    EXPECT_OK(results.status());
    if (!results.ok()) return std::nullopt;
    auto action = results->find("act1");
    if (action == results->end()) return std::nullopt;
    auto it = action->second.find(agent);
    if (it == action->second.end()) return std::nullopt;
    return it->second;
  }

  // Waits up to kWait until agent `agent` has a stored result in `state`.
  bool WaitForState(const std::string& agent, v1::ActionTargetState state) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      std::optional<record::ActionResultRecord> stored = Stored(agent);
      if (stored.has_value() && stored->state() == state) return true;
      absl::SleepFor(kFlushInterval);
    }
    return false;
  }

  std::unique_ptr<storage::Store> store_ = storage::NewMemoryStore();
};

// A settled state is written by the flusher; a running one held for an hour is not, until its
// final state replaces it, and then only the final state is written.
TEST_F(ActionResultWriterTest, FinalStatesGoAtOnceStatesOnTheWayWaitForTheNext) {
  ActionResultWriter writer(*store_, kFlushInterval, absl::Hours(1));
  writer.Put("act1", "agent1", Result(v1::ACTION_TARGET_SUCCEEDED, 100), /*settled=*/true);
  writer.Put("act1", "agent2", Result(v1::ACTION_TARGET_RUNNING, 50), /*settled=*/false);
  ASSERT_TRUE(WaitForState("agent1", v1::ACTION_TARGET_SUCCEEDED));
  // Many flushes have run since: the running state still waits.
  absl::SleepFor(kFlushInterval * 10);
  EXPECT_FALSE(Stored("agent2").has_value());
  EXPECT_EQ(writer.pending(), 1u);

  writer.Put("act1", "agent2", Result(v1::ACTION_TARGET_FAILED, 100), /*settled=*/true);
  ASSERT_TRUE(WaitForState("agent2", v1::ACTION_TARGET_FAILED));
  EXPECT_EQ(writer.pending(), 0u);
}

// A target that reports progress more often than the hold is still written within it: a newer
// state on the way keeps the due time of the one it replaces.
TEST_F(ActionResultWriterTest, StateThatKeepsChangingIsWrittenWithinTheHold) {
  const absl::Duration hold = absl::Milliseconds(200);
  ActionResultWriter writer(*store_, kFlushInterval, hold);
  const absl::Time start = absl::Now();
  std::optional<absl::Time> written;
  for (int progress = 0; progress < 100 && absl::Now() - start < kWait; ++progress) {
    writer.Put("act1", "agent1", Result(v1::ACTION_TARGET_RUNNING, progress), /*settled=*/false);
    if (Stored("agent1").has_value()) {
      written = absl::Now();
      break;
    }
    absl::SleepFor(hold / 10);
  }
  ASSERT_TRUE(written.has_value()) << "a result reported every " << hold / 10 << " never landed";
  EXPECT_GE(*written - start, hold);
}

// Flush (and so Stop) writes what is held too: nothing is lost when fleetd stops.
TEST_F(ActionResultWriterTest, FlushWritesWhatIsHeld) {
  {
    ActionResultWriter writer(*store_, absl::Hours(1), absl::Hours(1));
    writer.Put("act1", "agent1", Result(v1::ACTION_TARGET_RUNNING, 40), /*settled=*/false);
    ASSERT_OK(writer.Flush());
    std::optional<record::ActionResultRecord> stored = Stored("agent1");
    ASSERT_TRUE(stored.has_value());
    EXPECT_EQ(stored->progress_percent(), 40);
    writer.Put("act1", "agent2", Result(v1::ACTION_TARGET_RUNNING, 60), /*settled=*/false);
  }
  std::optional<record::ActionResultRecord> stored = Stored("agent2");
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->progress_percent(), 60);
}

// A shared store (as etcd) that takes transactions of at most 3 ops and 400 bytes, and counts
// the ones that came within them.
class SmallTxnStore final : public storage::StoreWrapper {
 public:
  explicit SmallTxnStore(storage::Store& target) : StoreWrapper(target) {}
  bool Shared() const override { return true; }
  size_t MaxTxnOps() const override { return 3; }
  size_t MaxTxnBytes() const override { return 400; }
  absl::StatusOr<storage::TxnResult> Txn(const storage::TxnRequest& request) override {
    size_t bytes = 0;
    for (const storage::Op& op : request.success) bytes += op.key.size() + op.value.size();
    if (request.success.size() > MaxTxnOps() || bytes > MaxTxnBytes()) {
      return absl::InvalidArgumentError("too large for this store");
    }
    ++txns;
    return StoreWrapper::Txn(request);
  }
  int txns = 0;
};

// On a shared store results are revisioned keys, written in transactions within what the store
// takes: ops and bytes.
TEST(ActionResultWriterSharedTest, WritesWithinTheStoresLimits) {
  std::unique_ptr<storage::Store> memory = storage::NewMemoryStore();
  SmallTxnStore store(*memory);
  ActionResultWriter writer(store, absl::Hours(1), absl::Hours(1));
  for (int i = 0; i < 10; ++i) {
    record::ActionResultRecord result = Result(v1::ACTION_TARGET_SUCCEEDED);
    result.set_output(std::string(150, 'o'));
    writer.Put("act1", "agent-" + std::to_string(i), result, /*settled=*/true);
  }
  ASSERT_OK(writer.Flush());
  EXPECT_GE(store.txns, 5);  // 10 results of about 170 bytes: at most 2 per transaction
  ASSERT_OK_AND_ASSIGN(storage::RangeResult stored, memory->Range({.prefix = "/action_results/"}));
  EXPECT_EQ(stored.kvs.size(), 10u);
  ASSERT_OK_AND_ASSIGN(StoredActionResults loaded, LoadActionResults(store));
  EXPECT_EQ(loaded["act1"].size(), 10u);
  writer.Stop();
}

}  // namespace
}  // namespace fleet::server
