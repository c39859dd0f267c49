#include "agent/action_ledger.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::agent {
namespace {

v1::ActionStatus Status(const std::string& id, v1::ActionStatus::State state) {
  v1::ActionStatus status;
  status.set_id(id);
  status.set_state(state);
  return status;
}

// An action is found by id with its last status once added, and not before.
TEST(ActionLedgerTest, FindsWhatWasAddedAndUpdated) {
  ActionLedger ledger(10);
  EXPECT_EQ(ledger.Find("a1"), nullptr);
  ledger.Add(Status("a1", v1::ActionStatus::ACCEPTED));
  ASSERT_NE(ledger.Find("a1"), nullptr);
  EXPECT_EQ(ledger.Find("a1")->state(), v1::ActionStatus::ACCEPTED);
  ASSERT_OK(ledger.Update(Status("a1", v1::ActionStatus::RUNNING)));
  EXPECT_EQ(ledger.Find("a1")->state(), v1::ActionStatus::RUNNING);
  EXPECT_EQ(ledger.running(), 1u);
  EXPECT_EQ(ledger.finished(), 0u);
}

// Updates of unknown actions are NOT_FOUND; of finished ones FAILED_PRECONDITION, unchanged.
TEST(ActionLedgerTest, UnknownAndFinalAreRefused) {
  ActionLedger ledger(10);
  EXPECT_EQ(ledger.Update(Status("a1", v1::ActionStatus::RUNNING)).code(),
            absl::StatusCode::kNotFound);
  ledger.Add(Status("a1", v1::ActionStatus::REJECTED));
  EXPECT_EQ(ledger.Update(Status("a1", v1::ActionStatus::RUNNING)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ledger.Find("a1")->state(), v1::ActionStatus::REJECTED);
}

// Finished actions beyond the bound are forgotten oldest first; running ones are kept.
TEST(ActionLedgerTest, FinishedAreBounded) {
  ActionLedger ledger(2);
  ledger.Add(Status("run", v1::ActionStatus::ACCEPTED));
  for (const std::string id : {"f1", "f2", "f3"}) {
    ledger.Add(Status(id, v1::ActionStatus::ACCEPTED));
    ASSERT_OK(ledger.Update(Status(id, v1::ActionStatus::SUCCEEDED)));
  }
  EXPECT_EQ(ledger.Find("f1"), nullptr);
  EXPECT_NE(ledger.Find("f2"), nullptr);
  EXPECT_NE(ledger.Find("f3"), nullptr);
  EXPECT_NE(ledger.Find("run"), nullptr);
  EXPECT_EQ(ledger.finished(), 2u);
  EXPECT_EQ(ledger.running(), 1u);
}

// The bounds of a status, each naming its field.
TEST(ActionLedgerTest, CheckActionStatusNamesTheField) {
  EXPECT_OK(CheckActionStatus(Status("a", v1::ActionStatus::SUCCEEDED)));
  EXPECT_NE(CheckActionStatus(Status("a", v1::ActionStatus::STATE_UNSPECIFIED))
                .message()
                .find("ActionStatus.state"),
            std::string::npos);
  v1::ActionStatus bad_state = Status("a", static_cast<v1::ActionStatus::State>(42));
  EXPECT_EQ(CheckActionStatus(bad_state).code(), absl::StatusCode::kInvalidArgument);
  v1::ActionStatus progress = Status("a", v1::ActionStatus::RUNNING);
  progress.set_progress_percent(-1);
  EXPECT_NE(CheckActionStatus(progress).message().find("progress_percent"), std::string::npos);
  v1::ActionStatus output = Status("a", v1::ActionStatus::SUCCEEDED);
  output.set_output(std::string(64 * 1024, 'x'));
  EXPECT_OK(CheckActionStatus(output));
  output.set_output(std::string(64 * 1024 + 1, 'x'));
  EXPECT_NE(CheckActionStatus(output).message().find("output"), std::string::npos);
}

// Final states are the four the protocol names.
TEST(ActionLedgerTest, FinalStates) {
  EXPECT_FALSE(IsFinalActionState(v1::ActionStatus::ACCEPTED));
  EXPECT_FALSE(IsFinalActionState(v1::ActionStatus::RUNNING));
  EXPECT_TRUE(IsFinalActionState(v1::ActionStatus::SUCCEEDED));
  EXPECT_TRUE(IsFinalActionState(v1::ActionStatus::FAILED));
  EXPECT_TRUE(IsFinalActionState(v1::ActionStatus::REJECTED));
  EXPECT_TRUE(IsFinalActionState(v1::ActionStatus::CANCELLED));
}

}  // namespace
}  // namespace fleet::agent
