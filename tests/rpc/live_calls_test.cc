#include "rpc/live_calls.h"

#include <memory>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace fleet::rpc {
namespace {

TEST(LiveCallsTest, CountsEntriesWhileTheyLive) {
  LiveCalls calls;
  EXPECT_EQ(calls.count(), 0);
  {
    LiveCalls::Entry first(calls);
    LiveCalls::Entry second(calls);
    EXPECT_EQ(calls.count(), 2);
  }
  EXPECT_EQ(calls.count(), 0);
  EXPECT_EQ(calls.AwaitNone(absl::ZeroDuration()), 0);
}

TEST(LiveCallsTest, AwaitNoneGivesUpAfterTheTimeoutNamingWhatIsLeft) {
  LiveCalls calls;
  LiveCalls::Entry entry(calls);
  EXPECT_EQ(calls.AwaitNone(absl::Milliseconds(20)), 1);
}

TEST(LiveCallsTest, AwaitNoneReturnsOnceTheLastEntryIsGone) {
  LiveCalls calls;
  auto entry = std::make_unique<LiveCalls::Entry>(calls);
  std::thread ender([&] {
    absl::SleepFor(absl::Milliseconds(50));
    entry.reset();
  });
  EXPECT_EQ(calls.AwaitNone(absl::Seconds(60)), 0);
  ender.join();
}

}  // namespace
}  // namespace fleet::rpc
