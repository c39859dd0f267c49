#include "rpc/op_counter.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace fleet::rpc {
namespace {

// The stream is not over while operations are outstanding, even once Finish has completed; the
// last one to end says so, once.
TEST(OpCounterTest, EndsOnceFinishAndEveryOperationHaveEnded) {
  OpCounter counter;
  counter.Begin();  // a read
  counter.Begin();  // a write
  counter.Begin();  // Finish
  EXPECT_FALSE(counter.End(/*was_finish=*/false));
  EXPECT_FALSE(counter.End(/*was_finish=*/true));
  EXPECT_TRUE(counter.End(/*was_finish=*/false));
}

// Operations that all end before Finish starts never end the stream.
TEST(OpCounterTest, DoesNotEndBeforeFinish) {
  OpCounter counter;
  for (int i = 0; i < 3; ++i) {
    counter.Begin();
    EXPECT_FALSE(counter.End(/*was_finish=*/false));
  }
  counter.Begin();
  EXPECT_TRUE(counter.End(/*was_finish=*/true));
}

// Operations ending on many threads at once: exactly one End says the stream is over.
TEST(OpCounterTest, ExactlyOneEndWinsAcrossThreads) {
  constexpr int kThreads = 8;
  constexpr int kOpsPerThread = 1000;
  OpCounter counter;
  for (int i = 0; i < kThreads * kOpsPerThread + 1; ++i) counter.Begin();
  std::vector<int> wins(kThreads + 1, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOpsPerThread; ++i) wins[t] += counter.End(/*was_finish=*/false);
    });
  }
  wins[kThreads] += counter.End(/*was_finish=*/true);
  for (std::thread& thread : threads) thread.join();
  int total = 0;
  for (int count : wins) total += count;
  EXPECT_EQ(total, 1);
}

}  // namespace
}  // namespace fleet::rpc
