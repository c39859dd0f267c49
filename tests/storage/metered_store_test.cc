// MeteredStore: what it forwards, and what it records: every Txn timed, every PutState counted
// with its keys under the first segment of each key.
#include "storage/metered_store.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "storage/memory_store.h"
#include "tests/testing/status_matchers.h"

namespace fleet::storage {
namespace {

class MeteredStoreTest : public ::testing::Test {
 protected:
  MeteredStoreTest()
      : instruments_(AddStoreInstruments(registry_, {0.001, 1})),
        clock_(absl::FromUnixSeconds(1'000'000)),
        store_(NewMemoryStore(), instruments_, clock_) {}

  uint64_t Writes(const std::string& prefix) {
    return instruments_.state_writes.WithLabels({prefix}).value();
  }
  uint64_t Keys(const std::string& prefix) {
    return instruments_.state_keys.WithLabels({prefix}).value();
  }

  metrics::Registry registry_;
  StoreInstruments instruments_;
  ManualClock clock_;
  MeteredStore store_;
};

TEST(StateKeyPrefixTest, IsTheFirstSegment) {
  EXPECT_EQ(StateKeyPrefix("/action_results/0123456789ab/fedcba987654"), "action_results");
  EXPECT_EQ(StateKeyPrefix("/agent_status/0123456789ab"), "agent_status");
  EXPECT_EQ(StateKeyPrefix("/health_probe"), "health_probe");
  EXPECT_EQ(StateKeyPrefix("plain"), "plain");
  EXPECT_EQ(StateKeyPrefix("/"), "");
}

TEST_F(MeteredStoreTest, PutStateCountsOneWritePerPrefixAndEveryKey) {
  ASSERT_OK(store_.PutState(
      {{"/action_results/a/1", "x"}, {"/action_results/a/2", "y"}, {"/agent_status/1", "z"}},
      {"/action_results/a/3"}));
  EXPECT_EQ(Writes("action_results"), 1);
  EXPECT_EQ(Keys("action_results"), 3);
  EXPECT_EQ(Writes("agent_status"), 1);
  EXPECT_EQ(Keys("agent_status"), 1);

  ASSERT_OK(store_.PutState({{"/action_results/a/4", "x"}}, {}));
  EXPECT_EQ(Writes("action_results"), 2);
  EXPECT_EQ(Keys("action_results"), 4);
  EXPECT_EQ(Writes("agent_status"), 1);
}

TEST_F(MeteredStoreTest, PutStateWritesThrough) {
  ASSERT_OK(store_.PutState({{"/agent_status/1", "z"}}, {}));
  ASSERT_OK_AND_ASSIGN(auto state, store_.RangeState("/agent_status/"));
  ASSERT_EQ(state.size(), 1);
  EXPECT_EQ(state[0].second, "z");
}

TEST_F(MeteredStoreTest, FailedPutStateIsCountedAndItsErrorReturned) {
  EXPECT_EQ(store_.PutState({{"", "x"}}, {}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Writes(""), 1);
  EXPECT_EQ(Keys(""), 1);
}

TEST_F(MeteredStoreTest, EveryTxnIsTimed) {
  TxnRequest request;
  request.success.push_back(Op::Put("/policies/p", "v"));
  ASSERT_OK(store_.Txn(request).status());
  ASSERT_OK(store_.Txn(request).status());
  EXPECT_EQ(instruments_.txn_duration.Read().count, 2);
}

TEST_F(MeteredStoreTest, ExposesTheStateCounters) {
  ASSERT_OK(store_.PutState({{"/action_results/a/1", "x"}}, {}));
  const std::string text = registry_.Expose();
  EXPECT_NE(text.find("\nfleetd_store_state_writes_total{prefix=\"action_results\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\nfleetd_store_state_keys_total{prefix=\"action_results\"} 1\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace fleet::storage
