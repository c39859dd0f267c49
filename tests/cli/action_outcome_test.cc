// How fleetctl judges an action from its counts: the verdict of a watch, the exit code of
// `action status [--watch]`, the live line and the STATE column.
#include "cli/action_outcome.h"

#include "cli/exit_codes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

using ::testing::HasSubstr;

struct Counts {
  int64_t pending = 0, delivered = 0, running = 0, succeeded = 0, failed = 0, rejected = 0,
          expired = 0, cancelled = 0;
};

v1::Action Action(const Counts& c) {
  v1::Action action;
  action.set_id("3f9c2a7b1e04");
  action.set_type("upgrade");
  v1::ActionCounts* counts = action.mutable_counts();
  counts->set_pending(c.pending);
  counts->set_delivered(c.delivered);
  counts->set_running(c.running);
  counts->set_succeeded(c.succeeded);
  counts->set_failed(c.failed);
  counts->set_rejected(c.rejected);
  counts->set_expired(c.expired);
  counts->set_cancelled(c.cancelled);
  counts->set_targets(c.pending + c.delivered + c.running + c.succeeded + c.failed + c.rejected +
                      c.expired + c.cancelled);
  action.set_done(c.pending + c.delivered + c.running == 0);
  return action;
}

// Only every target having succeeded succeeds; any target not final yet waits.
TEST(DecideActionTest, SucceedsOnlyWhenEveryTargetSucceeded) {
  EXPECT_EQ(DecideAction(Action({.succeeded = 10})), ActionVerdict::kSucceeded);
  EXPECT_EQ(DecideAction(Action({.pending = 1, .succeeded = 9})), ActionVerdict::kWaiting);
  EXPECT_EQ(DecideAction(Action({.delivered = 1, .succeeded = 9})), ActionVerdict::kWaiting);
  EXPECT_EQ(DecideAction(Action({.running = 1, .succeeded = 9})), ActionVerdict::kWaiting);
}

// Once every target is final, any failed, rejected, expired or cancelled one makes it
// unsuccessful; while some still run, it waits even with failures.
TEST(DecideActionTest, FinalButNotAllSucceededIsUnsuccessful) {
  EXPECT_EQ(DecideAction(Action({.succeeded = 9, .failed = 1})), ActionVerdict::kUnsuccessful);
  EXPECT_EQ(DecideAction(Action({.succeeded = 9, .rejected = 1})), ActionVerdict::kUnsuccessful);
  EXPECT_EQ(DecideAction(Action({.succeeded = 9, .expired = 1})), ActionVerdict::kUnsuccessful);
  EXPECT_EQ(DecideAction(Action({.cancelled = 10})), ActionVerdict::kUnsuccessful);
  EXPECT_EQ(DecideAction(Action({.running = 1, .failed = 9})), ActionVerdict::kWaiting);
}

// Counts that do not add up to the targets are never passed: an empty status included.
TEST(DecideActionTest, InconsistentCountsNeverSucceed) {
  v1::Action action = Action({.succeeded = 9});
  action.mutable_counts()->set_targets(10);
  EXPECT_EQ(DecideAction(action), ActionVerdict::kWaiting);
  v1::Action empty;
  empty.mutable_counts()->set_targets(3);
  EXPECT_EQ(DecideAction(empty), ActionVerdict::kWaiting);
}

// The exit codes: 0 all succeeded, 4 some did not (even at a timeout), 5 a timeout with targets
// unfinished; without a timeout an unfinished action without failures is 0.
TEST(ActionOutcomeTest, ExitCodes) {
  EXPECT_EQ(ExitCodeFor(ActionOutcome(Action({.succeeded = 3}), false, "")), kExitOk);
  EXPECT_EQ(ExitCodeFor(ActionOutcome(Action({.succeeded = 3}), true, "1m")), kExitOk);
  EXPECT_EQ(ExitCodeFor(ActionOutcome(Action({.pending = 2, .succeeded = 1}), false, "")), kExitOk);
  EXPECT_EQ(ExitCodeFor(ActionOutcome(Action({.pending = 2, .succeeded = 1}), true, "1m")),
            kExitTimeout);
  EXPECT_EQ(ExitCodeFor(ActionOutcome(Action({.succeeded = 1, .failed = 2}), false, "")),
            kExitConflict);
  EXPECT_EQ(ExitCodeFor(ActionOutcome(Action({.pending = 1, .rejected = 1}), true, "1m")),
            kExitConflict);
  EXPECT_EQ(ExitCodeFor(ActionOutcome(Action({.pending = 1, .rejected = 1}), false, "")),
            kExitConflict);
  EXPECT_EQ(ExitCodeFor(ActionOutcome(Action({.succeeded = 1, .expired = 1}), false, "")),
            kExitConflict);
}

// The messages name the action, its counts and where to look.
TEST(ActionOutcomeTest, MessagesNameTheActionAndCounts) {
  absl::Status failed =
      ActionOutcome(Action({.succeeded = 997, .failed = 2, .rejected = 1}), false, "");
  EXPECT_EQ(failed.message(),
            "action 3f9c2a7b1e04: 3 of 1,000 targets did not succeed (997/1,000 succeeded, 2 "
            "failed, 1 rejected); see fleetctl describe action 3f9c2a7b1e04");
  absl::Status cut =
      ActionOutcome(Action({.pending = 400, .succeeded = 578, .failed = 22}), true, "3m");
  EXPECT_EQ(cut.message(),
            "action 3f9c2a7b1e04: 22 of 1,000 targets did not succeed and 400 were unfinished "
            "after 3m (578/1,000 succeeded, 400 pending, 22 failed); see fleetctl describe action "
            "3f9c2a7b1e04");
  absl::Status late = ActionOutcome(Action({.pending = 5, .succeeded = 5}), true, "30s");
  EXPECT_EQ(late.message(),
            "action 3f9c2a7b1e04 not finished after 30s (5/10 succeeded, 5 pending)");
}

// The live line: succeeded of the targets, then the other states that have targets, in order.
TEST(ActionProgressTest, NamesTheStatesThatHaveTargets) {
  EXPECT_EQ(ActionProgress(Action({.pending = 151, .running = 34, .succeeded = 812, .failed = 3}),
                           absl::Seconds(90.4)),
            "action 3f9c2a7b1e04 upgrade: 812/1,000 succeeded, 151 pending, 34 running, 3 "
            "failed, 1m30s elapsed");
  EXPECT_EQ(ActionProgress(Action({.succeeded = 2}), absl::Seconds(1)),
            "action 3f9c2a7b1e04 upgrade: 2/2 succeeded, 1s elapsed");
}

// STATE as fleetd judges it: active while some target is not final (cancelled or not); then
// cancelled, expired (some target expired) or done.
TEST(ActionStateOfTest, Words) {
  v1::Action active = Action({.pending = 1, .succeeded = 1});
  EXPECT_EQ(ActionStateOf(active), "active");
  active.mutable_cancelled_at()->set_seconds(1'700'000'000);
  EXPECT_EQ(ActionStateOf(active), "active");
  v1::Action cancelled = Action({.succeeded = 1, .cancelled = 1});
  cancelled.mutable_cancelled_at()->set_seconds(1'700'000'000);
  EXPECT_EQ(ActionStateOf(cancelled), "cancelled");
  EXPECT_EQ(ActionStateOf(Action({.succeeded = 1, .expired = 1})), "expired");
  EXPECT_EQ(ActionStateOf(Action({.succeeded = 1, .failed = 1})), "done");
}

}  // namespace
}  // namespace fleet::cli
