#include "rpc/cq_pool.h"

#include "gtest/gtest.h"

namespace fleet::rpc {
namespace {

// One queue per kStreamsPerQueue streams, rounded up, never none and never past the maximum.
TEST(CqPoolQueuesForTest, OnePerThousandsOfStreamsWithinTheMaximum) {
  EXPECT_EQ(CqPool::QueuesFor(0, 32), 1);
  EXPECT_EQ(CqPool::QueuesFor(2'000, 32), 1);
  EXPECT_EQ(CqPool::QueuesFor(kStreamsPerQueue, 32), 1);
  EXPECT_EQ(CqPool::QueuesFor(kStreamsPerQueue + 1, 32), 2);
  EXPECT_EQ(CqPool::QueuesFor(10'000, 32), 4);
  EXPECT_EQ(CqPool::QueuesFor(100'000, 32), 32);
  EXPECT_EQ(CqPool::QueuesFor(100'000, 0), 1);
}

}  // namespace
}  // namespace fleet::rpc
