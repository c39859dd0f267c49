// The Reflector on a MemoryStore behind a FaultInjectingStore: it lists, then follows every
// change, and heals itself when its watch breaks mid-stream, when it fell behind a compaction
// and while the store is unavailable, never losing a change that was committed meanwhile.
#include "storage/reflector.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "storage/errors.h"
#include "storage/memory_store.h"
#include "tests/testing/fault_injecting_store.h"
#include "tests/testing/status_matchers.h"

namespace fleet::storage {
namespace {

constexpr absl::Duration kWait = absl::Seconds(20);

// Keeps the view a Reflector hands it: key -> value.
class MapHandler final : public ReflectorHandler {
 public:
  void Replace(const std::vector<KeyValue>& kvs, int64_t) override {
    absl::MutexLock lock(&mu_);
    view_.clear();
    for (const KeyValue& kv : kvs) view_[kv.key] = kv.value;
    ++replaces_;
  }
  void Apply(const WatchBatch& batch) override {
    absl::MutexLock lock(&mu_);
    for (const Event& event : batch.events) {
      if (event.type == Event::Type::kDelete) {
        view_.erase(event.kv.key);
      } else {
        view_[event.kv.key] = event.kv.value;
      }
    }
  }
  std::map<std::string, std::string> view() {
    absl::MutexLock lock(&mu_);
    return view_;
  }
  int replaces() {
    absl::MutexLock lock(&mu_);
    return replaces_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> view_ ABSL_GUARDED_BY(mu_);
  int replaces_ ABSL_GUARDED_BY(mu_) = 0;
};

class ReflectorTest : public ::testing::Test {
 protected:
  // Commits key=value (or a delete, for an empty value) and returns the revision.
  int64_t Put(const std::string& key, const std::string& value) {
    absl::StatusOr<TxnResult> result =
        memory_->Txn({.success = {value.empty() ? Op::Delete(key) : Op::Put(key, value)}});
    EXPECT_OK(result);
    return result.ok() ? result->revision : 0;
  }
  // Waits (bounded) until `reflector` started over at least `restarts` times.
  static void AwaitRestarts(Reflector& reflector, int64_t restarts) {
    const absl::Time deadline = absl::Now() + kWait;
    while (reflector.restarts() < restarts && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(2));
    }
  }

  std::unique_ptr<Reflector> Start() {
    return std::make_unique<Reflector>(
        store_, handler_,
        ReflectorOptions{
            .name = "test",
            .prefix = "/k/",
            .backoff = {.initial = absl::Milliseconds(1), .max = absl::Milliseconds(20)},
            .poll = absl::Milliseconds(20)});
  }

  std::unique_ptr<Store> memory_ = NewMemoryStore();
  fleet::testing::FaultInjectingStore store_{*memory_};
  MapHandler handler_;
};

// The listing comes first, then every later change of the prefix, and nothing outside it.
TEST_F(ReflectorTest, ListsThenFollowsThePrefix) {
  Put("/k/a", "1");
  Put("/other", "x");
  std::unique_ptr<Reflector> reflector = Start();
  ASSERT_TRUE(reflector->WaitSynced(kWait));
  EXPECT_EQ(handler_.view(), (std::map<std::string, std::string>{{"/k/a", "1"}}));
  Put("/k/b", "2");
  const int64_t last = Put("/k/a", "");
  ASSERT_TRUE(reflector->WaitForRevision(last, kWait));
  EXPECT_EQ(handler_.view(), (std::map<std::string, std::string>{{"/k/b", "2"}}));
  EXPECT_EQ(reflector->restarts(), 0);
}

// A commit outside the prefix moves the reflector's revision at once, not after its poll: a
// caller waiting for the store's current revision (the agent directory for an action's targets)
// is not held up by other keys' commits.
TEST_F(ReflectorTest, CommitOutsideThePrefixIsSeenWithoutWaitingOutThePoll) {
  Reflector reflector(store_, handler_,
                      ReflectorOptions{.name = "test", .prefix = "/k/", .poll = absl::Hours(1)});
  ASSERT_TRUE(reflector.WaitSynced(kWait));
  const int64_t revision = Put("/other", "x");
  EXPECT_TRUE(reflector.WaitForRevision(revision, kWait));
}

// A watch that breaks mid-stream is restarted: the view is listed again, with whatever changed
// while it was broken, and later changes still arrive.
TEST_F(ReflectorTest, WatchBrokenMidStreamIsListedAgain) {
  std::unique_ptr<Reflector> reflector = Start();
  ASSERT_TRUE(reflector->WaitSynced(kWait));
  store_.BreakWatches(absl::InternalError("injected: connection reset"));
  Put("/k/during", "1");
  AwaitRestarts(*reflector, 1);
  const int64_t after = Put("/k/after", "2");
  ASSERT_TRUE(reflector->WaitForRevision(after, kWait));
  ASSERT_TRUE(reflector->WaitSynced(kWait));
  EXPECT_EQ(handler_.view(),
            (std::map<std::string, std::string>{{"/k/after", "2"}, {"/k/during", "1"}}));
  EXPECT_GE(reflector->restarts(), 1);
  EXPECT_GE(handler_.replaces(), 2);
  EXPECT_GE(store_.watches_started(), 2);
}

// Compacted (the watch fell behind the log) makes it list again at once.
TEST_F(ReflectorTest, CompactedIsListedAgain) {
  std::unique_ptr<Reflector> reflector = Start();
  ASSERT_TRUE(reflector->WaitSynced(kWait));
  const int64_t revision = Put("/k/a", "1");
  ASSERT_OK(memory_->Compact(revision));
  store_.BreakWatches(CompactedError(0, revision));
  AwaitRestarts(*reflector, 1);
  const int64_t later = Put("/k/b", "2");
  ASSERT_TRUE(reflector->WaitForRevision(later, kWait));
  EXPECT_GE(reflector->restarts(), 1);
  EXPECT_EQ(handler_.view(), (std::map<std::string, std::string>{{"/k/a", "1"}, {"/k/b", "2"}}));
}

// While the store is unavailable the reflector is not synced and keeps retrying; once the store
// is back it lists again and follows, with the changes it missed.
TEST_F(ReflectorTest, UnavailableStoreIsRetriedUntilItIsBack) {
  std::unique_ptr<Reflector> reflector = Start();
  ASSERT_TRUE(reflector->WaitSynced(kWait));
  store_.SetUnavailable(true);
  store_.BreakWatches(absl::UnavailableError("injected: store down"));
  AwaitRestarts(*reflector, 3);
  EXPECT_GE(reflector->restarts(), 3);
  EXPECT_FALSE(reflector->synced());
  Put("/k/missed", "1");  // through the inner store: committed while the reflector is cut off
  store_.SetUnavailable(false);
  ASSERT_TRUE(reflector->WaitSynced(kWait));
  const int64_t later = Put("/k/later", "2");
  ASSERT_TRUE(reflector->WaitForRevision(later, kWait));
  EXPECT_EQ(handler_.view(),
            (std::map<std::string, std::string>{{"/k/later", "2"}, {"/k/missed", "1"}}));
}

// The list prefix may be narrower than the watched one: the listing holds only its keys.
TEST_F(ReflectorTest, ListPrefixNarrowsTheListingOnly) {
  Put("/k/head/a", "1");
  Put("/k/body/a", "x");
  Reflector reflector(store_, handler_,
                      {.name = "test", .prefix = "/k/", .list_prefix = "/k/head/"});
  ASSERT_TRUE(reflector.WaitSynced(kWait));
  EXPECT_EQ(handler_.view(), (std::map<std::string, std::string>{{"/k/head/a", "1"}}));
  const int64_t revision = Put("/k/body/b", "y");
  ASSERT_TRUE(reflector.WaitForRevision(revision, kWait));
  EXPECT_EQ(handler_.view().count("/k/body/b"), 1u);
}

}  // namespace
}  // namespace fleet::storage
