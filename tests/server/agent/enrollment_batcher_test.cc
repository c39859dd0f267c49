// EnrollmentBatcher: calls with one token that queue up behind a commit are decided together, in
// arrival order, within the batch limits; each caller gets the result decided for it; other
// tokens do not wait.
#include "server/agent/enrollment_batcher.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace fleet::server {
namespace {

// A commit function that answers every enrollment with its own secret as the agent id and
// records the batches; its first call waits until Release(), so that the test can line others
// up behind it.
class RecordingCommit {
 public:
  void operator()(const std::vector<PendingEnrollment*>& batch) {
    if (calls_.fetch_add(1) == 0) {
      first_entered_.Notify();
      release_.WaitForNotification();
    }
    std::vector<std::string> secrets;
    for (PendingEnrollment* enrollment : batch) {
      v1::EnrollResponse response;
      response.set_agent_id(enrollment->token_secret);
      enrollment->result = response;
      secrets.push_back(enrollment->token_secret);
    }
    absl::MutexLock lock(&mu_);
    batches_.push_back(secrets);
  }

  void WaitForFirst() { first_entered_.WaitForNotification(); }
  void Release() { release_.Notify(); }
  std::vector<std::vector<std::string>> Batches() {
    absl::MutexLock lock(&mu_);
    return batches_;
  }

 private:
  std::atomic<int> calls_{0};
  absl::Notification first_entered_;
  absl::Notification release_;
  absl::Mutex mu_;
  std::vector<std::vector<std::string>> batches_ ABSL_GUARDED_BY(mu_);
};

class EnrollmentBatcherTest : public ::testing::Test {
 protected:
  // Starts an enrollment with `token_id` whose secret is `secret`; its answer lands in answers_.
  void Start(const std::string& token_id, const std::string& secret, size_t bytes = 1) {
    threads_.emplace_back([this, token_id, secret, bytes] {
      PendingEnrollment enrollment{.token_id = token_id, .token_secret = secret, .bytes = bytes};
      batcher_->Enroll(enrollment);
      absl::MutexLock lock(&mu_);
      answers_.push_back(
          {secret, enrollment.result.ok() ? enrollment.result->agent_id() : "error"});
    });
  }

  // Starts the first enrollment of token "t" and waits until it is inside its commit.
  void StartLeader() {
    Start("t", "leader");
    commit_.WaitForFirst();
  }

  // Starts `n` more enrollments of token "t", named f0, f1, ..., one after the other, each
  // queued before the next starts (so their order is known).
  void QueueFollowers(int n) {
    for (int i = 0; i < n; ++i) {
      Start("t", absl::StrCat("f", i));
      while (batcher_->QueuedFor("t") < static_cast<size_t>(i + 1)) std::this_thread::yield();
    }
  }

  void JoinAll() {
    for (std::thread& thread : threads_) thread.join();
    threads_.clear();
  }

  void MakeBatcher(size_t max_batch, size_t max_bytes) {
    batcher_ = std::make_unique<EnrollmentBatcher>(
        max_batch, max_bytes,
        [this](const std::vector<PendingEnrollment*>& batch) { commit_(batch); });
  }

  RecordingCommit commit_;
  std::unique_ptr<EnrollmentBatcher> batcher_;
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  std::vector<std::pair<std::string, std::string>> answers_ ABSL_GUARDED_BY(mu_);
};

// Calls that queue up while a commit runs are decided in one next batch, in arrival order, and
// each caller gets its own answer.
TEST_F(EnrollmentBatcherTest, QueuedCallsShareTheNextBatch) {
  MakeBatcher(256, 1 << 20);
  StartLeader();
  QueueFollowers(5);
  commit_.Release();
  JoinAll();
  using Batch = std::vector<std::string>;
  EXPECT_EQ(commit_.Batches(), (std::vector<Batch>{{"leader"}, {"f0", "f1", "f2", "f3", "f4"}}));
  absl::MutexLock lock(&mu_);
  ASSERT_EQ(answers_.size(), 6u);
  for (const auto& [secret, agent_id] : answers_) EXPECT_EQ(agent_id, secret);
  EXPECT_EQ(batcher_->QueuedFor("t"), 0u);
}

// A batch never holds more than max_batch calls; the rest go in the following batches, in order.
TEST_F(EnrollmentBatcherTest, BatchesAreCappedInCount) {
  MakeBatcher(2, 1 << 20);
  StartLeader();
  QueueFollowers(5);
  commit_.Release();
  JoinAll();
  using Batch = std::vector<std::string>;
  EXPECT_EQ(commit_.Batches(),
            (std::vector<Batch>{{"leader"}, {"f0", "f1"}, {"f2", "f3"}, {"f4"}}));
}

// A batch stops before the call that would take it past max_bytes, but a call bigger than that
// still goes through, alone.
TEST_F(EnrollmentBatcherTest, BatchesAreCappedInBytes) {
  MakeBatcher(256, 100);
  StartLeader();
  Start("t", "f0", 40);
  while (batcher_->QueuedFor("t") < 1) std::this_thread::yield();
  Start("t", "f1", 40);
  while (batcher_->QueuedFor("t") < 2) std::this_thread::yield();
  Start("t", "f2", 40);
  while (batcher_->QueuedFor("t") < 3) std::this_thread::yield();
  Start("t", "big", 500);
  while (batcher_->QueuedFor("t") < 4) std::this_thread::yield();
  commit_.Release();
  JoinAll();
  using Batch = std::vector<std::string>;
  EXPECT_EQ(commit_.Batches(), (std::vector<Batch>{{"leader"}, {"f0", "f1"}, {"f2"}, {"big"}}));
}

// A call with another token does not wait behind a commit in progress for the first token.
TEST_F(EnrollmentBatcherTest, OtherTokensDoNotWait) {
  MakeBatcher(256, 1 << 20);
  StartLeader();
  PendingEnrollment other{.token_id = "u", .token_secret = "other", .bytes = 1};
  batcher_->Enroll(other);  // would never return if it waited for "t"
  ASSERT_TRUE(other.result.ok());
  EXPECT_EQ(other.result->agent_id(), "other");
  commit_.Release();
  JoinAll();
  using Batch = std::vector<std::string>;
  EXPECT_EQ(commit_.Batches(), (std::vector<Batch>{{"other"}, {"leader"}}));
}

// Many callers at once, without any orchestration: every one gets its own answer, and the
// batcher forgets the token afterwards.
TEST_F(EnrollmentBatcherTest, ManyCallersEachGetTheirOwnAnswer) {
  MakeBatcher(8, 1 << 20);
  commit_.Release();
  for (int i = 0; i < 64; ++i) Start(i % 2 == 0 ? "t" : "u", absl::StrCat("s", i));
  JoinAll();
  absl::MutexLock lock(&mu_);
  ASSERT_EQ(answers_.size(), 64u);
  for (const auto& [secret, agent_id] : answers_) EXPECT_EQ(agent_id, secret);
  size_t decided = 0;
  for (const std::vector<std::string>& batch : commit_.Batches()) {
    EXPECT_LE(batch.size(), 8u);
    decided += batch.size();
  }
  EXPECT_EQ(decided, 64u);
  EXPECT_EQ(batcher_->QueuedFor("t"), 0u);
  EXPECT_EQ(batcher_->QueuedFor("u"), 0u);
}

}  // namespace
}  // namespace fleet::server
