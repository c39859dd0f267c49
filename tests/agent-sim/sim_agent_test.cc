#include "agent-sim/sim_agent.h"

#include <google/protobuf/util/time_util.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"

namespace fleet::agent {
namespace {

using google::protobuf::util::TimeUtil;

// Tasks run only when the test steps the time.
class ManualScheduler final : public TaskScheduler {
 public:
  absl::Time Now() override { return now_; }
  void At(absl::Time at, Task task) override { tasks_.emplace(at, std::move(task)); }

  // Moves the time by `by`, running every task due on the way (those they add too), in order.
  void Advance(absl::Duration by) {
    const absl::Time until = now_ + by;
    for (int ran = 0; ran < 100'000 && !tasks_.empty() && tasks_.begin()->first <= until; ++ran) {
      auto first = tasks_.begin();
      now_ = std::max(now_, first->first);
      Task task = std::move(first->second);
      tasks_.erase(first);
      std::move(task)();
    }
    now_ = until;
  }
  size_t pending() const { return tasks_.size(); }

 private:
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  std::multimap<absl::Time, Task> tasks_;
};

// Records what the agent sends, answering as told.
class FakeOutbox final : public AgentOutbox {
 public:
  absl::Status ReportAction(v1::ActionStatus status) override {
    reports.push_back(std::move(status));
    return absl::OkStatus();
  }
  absl::Status SendQueryResult(v1::QueryResult result) override {
    if (!result_status.ok()) return result_status;
    results.push_back(std::move(result));
    return absl::OkStatus();
  }
  void Restart(std::string agent_version) override { restarts.push_back(agent_version); }

  std::vector<v1::ActionStatus> reports;
  std::vector<v1::QueryResult> results;
  std::vector<std::string> restarts;
  absl::Status result_status;
};

v1::AgentAction Action(const std::string& id, const std::string& type,
                       const std::string& arguments = "{}") {
  v1::AgentAction action;
  action.set_id(id);
  action.set_type(type);
  action.set_arguments_json(arguments);
  return action;
}

v1::AgentQuery Query(const std::string& id) {
  v1::AgentQuery query;
  query.set_id(id);
  query.set_query("select * from processes");
  return query;
}

class SimAgentTest : public ::testing::Test {
 protected:
  void Make(SimBehavior behavior) {
    agent_ = std::make_unique<SimAgent>("sim-7", behavior, 1, scheduler_, activity_);
    agent_->Attach(outbox_);
  }

  ManualScheduler scheduler_;
  SimActivity activity_;
  FakeOutbox outbox_;
  std::unique_ptr<SimAgent> agent_;
};

// An action is ACCEPTED at once, reports RUNNING with rising progress at each step over its
// duration, then SUCCEEDED; the counts say so.
TEST_F(SimAgentTest, ActionRunsInStepsThenSucceeds) {
  Make({.action_duration = absl::Seconds(4), .action_progress_steps = 3});
  const v1::ActionStatus first = agent_->OnAction(Action("a1", "custom"));
  EXPECT_EQ(first.id(), "a1");
  EXPECT_EQ(first.state(), v1::ActionStatus::ACCEPTED);
  scheduler_.Advance(absl::Seconds(1));
  ASSERT_EQ(outbox_.reports.size(), 1u);
  EXPECT_EQ(outbox_.reports[0].state(), v1::ActionStatus::RUNNING);
  EXPECT_EQ(outbox_.reports[0].progress_percent(), 25);
  scheduler_.Advance(absl::Seconds(3));
  ASSERT_EQ(outbox_.reports.size(), 4u);
  EXPECT_EQ(outbox_.reports[1].progress_percent(), 50);
  EXPECT_EQ(outbox_.reports[2].progress_percent(), 75);
  EXPECT_EQ(outbox_.reports[3].id(), "a1");
  EXPECT_EQ(outbox_.reports[3].state(), v1::ActionStatus::SUCCEEDED);
  EXPECT_EQ(outbox_.reports[3].progress_percent(), 100);
  const SimActivityCounts counts = activity_.Counts();
  EXPECT_EQ(counts.actions_received, 1);
  EXPECT_EQ(counts.actions_succeeded, 1);
  EXPECT_EQ(scheduler_.pending(), 0u);
}

// A zero duration without steps ends at once: the handler answers with the final status itself
// (no ACCEPTED first), except for a restart, which is accepted and reconnects from a task.
TEST_F(SimAgentTest, ZeroDurationEndsAtOnce) {
  Make({.action_duration = absl::ZeroDuration(), .action_progress_steps = 0});
  EXPECT_EQ(agent_->OnAction(Action("a1", "restart")).state(), v1::ActionStatus::ACCEPTED);
  const v1::ActionStatus done = agent_->OnAction(Action("a2", "diagnostics"));
  EXPECT_EQ(done.id(), "a2");
  EXPECT_EQ(done.state(), v1::ActionStatus::SUCCEEDED);
  EXPECT_EQ(nlohmann::json::parse(done.output())["host"], "sim-7");
  EXPECT_EQ(activity_.Counts().actions_succeeded, 1);
  scheduler_.Advance(absl::ZeroDuration());
  // Nothing more is reported of the diagnostics; the restart reconnects first.
  EXPECT_TRUE(outbox_.reports.empty());
  EXPECT_EQ(outbox_.restarts.size(), 1u);
}

// At a failure rate of 1 every action ends FAILED.
TEST_F(SimAgentTest, FailureRateFailsActions) {
  Make({.action_duration = absl::Seconds(1),
        .action_progress_steps = 0,
        .action_failure_rate = 1.0});
  agent_->OnAction(Action("a1", "upgrade", R"({"version":"2.0.0"})"));
  scheduler_.Advance(absl::Seconds(1));
  ASSERT_EQ(outbox_.reports.size(), 1u);
  EXPECT_EQ(outbox_.reports[0].state(), v1::ActionStatus::FAILED);
  EXPECT_TRUE(outbox_.restarts.empty());
  EXPECT_EQ(activity_.Counts().actions_failed, 1);
}

// An unknown type, or an upgrade without a usable version, is REJECTED at once.
TEST_F(SimAgentTest, UnknownTypeAndBadArgumentsAreRejected) {
  Make({});
  const v1::ActionStatus unknown = agent_->OnAction(Action("a1", "reboot-the-moon"));
  EXPECT_EQ(unknown.state(), v1::ActionStatus::REJECTED);
  EXPECT_NE(unknown.message().find("reboot-the-moon"), std::string::npos);
  for (const std::string arguments :
       {"{}", R"({"version": 3})", R"({"version": ""})", "not json"}) {
    EXPECT_EQ(agent_->OnAction(Action("u-" + arguments, "upgrade", arguments)).state(),
              v1::ActionStatus::REJECTED)
        << arguments;
  }
  EXPECT_EQ(activity_.Counts().actions_rejected, 5);
  EXPECT_EQ(activity_.Counts().actions_received, 5);
  EXPECT_EQ(scheduler_.pending(), 0u);
}

// An upgrade reports its progress, then restarts as the new version, and succeeds only once the
// agent is back (the next stream's Welcome).
TEST_F(SimAgentTest, UpgradeRestartsWithTheNewVersionAndSucceedsAfterTheReconnect) {
  Make({.action_duration = absl::Seconds(2), .action_progress_steps = 1});
  agent_->OnAction(Action("u1", "upgrade", R"({"version":"2.0.0","url":"x","sha256":"y"})"));
  scheduler_.Advance(absl::Seconds(2));
  ASSERT_EQ(outbox_.reports.size(), 1u);
  EXPECT_EQ(outbox_.reports[0].state(), v1::ActionStatus::RUNNING);
  EXPECT_EQ(outbox_.restarts, std::vector<std::string>{"2.0.0"});
  EXPECT_EQ(activity_.Counts().actions_succeeded, 0);
  // Too late to cancel: it is restarting.
  EXPECT_FALSE(agent_->OnCancel("u1").has_value());
  agent_->OnConnected();
  scheduler_.Advance(absl::ZeroDuration());
  ASSERT_EQ(outbox_.reports.size(), 2u);
  EXPECT_EQ(outbox_.reports[1].id(), "u1");
  EXPECT_EQ(outbox_.reports[1].state(), v1::ActionStatus::SUCCEEDED);
  EXPECT_EQ(agent_->version(), "2.0.0");
  EXPECT_EQ(activity_.Counts().actions_succeeded, 1);
  // A later Welcome has nothing left to finish.
  agent_->OnConnected();
  scheduler_.Advance(absl::ZeroDuration());
  EXPECT_EQ(outbox_.reports.size(), 2u);
}

// A cancel of a running action stops it: CANCELLED, and nothing more is reported.
TEST_F(SimAgentTest, CancelStopsARunningAction) {
  Make({.action_duration = absl::Seconds(4), .action_progress_steps = 3});
  agent_->OnAction(Action("a1", "custom"));
  scheduler_.Advance(absl::Seconds(1));
  const std::optional<v1::ActionStatus> cancelled = agent_->OnCancel("a1");
  ASSERT_TRUE(cancelled.has_value());
  EXPECT_EQ(cancelled->state(), v1::ActionStatus::CANCELLED);
  scheduler_.Advance(absl::Seconds(10));
  EXPECT_EQ(outbox_.reports.size(), 1u);  // the first RUNNING only
  EXPECT_EQ(activity_.Counts().actions_cancelled, 1);
  EXPECT_FALSE(agent_->OnCancel("a1").has_value());
}

// Unenroll succeeds (the simulated agent keeps running).
TEST_F(SimAgentTest, UnenrollSucceeds) {
  Make({.action_duration = absl::Seconds(1), .action_progress_steps = 0});
  agent_->OnAction(Action("a1", "unenroll"));
  scheduler_.Advance(absl::Seconds(1));
  ASSERT_EQ(outbox_.reports.size(), 1u);
  EXPECT_EQ(outbox_.reports[0].state(), v1::ActionStatus::SUCCEEDED);
}

// An action does not start before its not_before.
TEST_F(SimAgentTest, ActionWaitsForNotBefore) {
  Make({.action_duration = absl::ZeroDuration(), .action_progress_steps = 0});
  v1::AgentAction action = Action("a1", "custom");
  *action.mutable_not_before() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(scheduler_.Now() + absl::Seconds(5)));
  agent_->OnAction(action);
  scheduler_.Advance(absl::Seconds(4));
  EXPECT_TRUE(outbox_.reports.empty());
  scheduler_.Advance(absl::Seconds(1));
  EXPECT_EQ(outbox_.reports.size(), 1u);
}

// A query is answered after the latency with the synthetic rows, in one last result.
TEST_F(SimAgentTest, QueryAnsweredWithSyntheticRowsAfterTheLatency) {
  Make({.query_latency = absl::Milliseconds(50), .query_rows = 3});
  EXPECT_FALSE(agent_->OnQuery(Query("q1")).has_value());
  scheduler_.Advance(absl::Milliseconds(49));
  EXPECT_TRUE(outbox_.results.empty());
  scheduler_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(outbox_.results.size(), 1u);
  const v1::QueryResult& result = outbox_.results[0];
  EXPECT_EQ(result.id(), "q1");
  EXPECT_TRUE(result.last());
  EXPECT_TRUE(result.error().empty());
  EXPECT_EQ(TimeUtil::DurationToMilliseconds(result.duration()), 50);
  EXPECT_EQ(nlohmann::json::parse(result.rows_json()),
            nlohmann::json::parse(R"([{"host":"sim-7","n":0},{"host":"sim-7","n":1},
                                      {"host":"sim-7","n":2}])"));
  EXPECT_EQ(activity_.Counts().queries_received, 1);
  EXPECT_EQ(activity_.Counts().queries_answered, 1);
}

// Many rows go in several results under 1 MiB each, only the last marked, none lost.
TEST_F(SimAgentTest, ManyRowsGoInSeveralResults) {
  Make({.query_latency = absl::ZeroDuration(), .query_rows = 100'000});
  agent_->OnQuery(Query("q1"));
  scheduler_.Advance(absl::ZeroDuration());
  ASSERT_GT(outbox_.results.size(), 1u);
  size_t rows = 0;
  for (size_t i = 0; i < outbox_.results.size(); ++i) {
    const v1::QueryResult& result = outbox_.results[i];
    EXPECT_LE(result.rows_json().size(), 1024u * 1024u);
    EXPECT_EQ(result.last(), i + 1 == outbox_.results.size());
    const nlohmann::json parsed = nlohmann::json::parse(result.rows_json());
    ASSERT_TRUE(parsed.is_array());
    for (const nlohmann::json& row : parsed) EXPECT_EQ(row["n"], rows++);
  }
  EXPECT_EQ(rows, 100'000u);
}

// Zero rows is an empty array; with no latency, an answer in one result is OnQuery's return and
// nothing is left to a task.
TEST_F(SimAgentTest, ZeroRows) {
  Make({.query_latency = absl::ZeroDuration(), .query_rows = 0});
  const std::optional<v1::QueryResult> result = agent_->OnQuery(Query("q1"));
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->id(), "q1");
  EXPECT_EQ(result->rows_json(), "[]");
  EXPECT_TRUE(result->last());
  EXPECT_EQ(activity_.Counts().queries_answered, 1);
  EXPECT_EQ(scheduler_.pending(), 0u);
  EXPECT_TRUE(outbox_.results.empty());
}

// At an error rate of 1 every query is answered with an error; an answer that cannot go out is
// counted as dropped.
TEST_F(SimAgentTest, QueryErrorsAndDrops) {
  Make({.query_latency = absl::Milliseconds(1), .query_error_rate = 1.0});
  agent_->OnQuery(Query("q1"));
  scheduler_.Advance(absl::Milliseconds(1));
  ASSERT_EQ(outbox_.results.size(), 1u);
  EXPECT_FALSE(outbox_.results[0].error().empty());
  EXPECT_TRUE(outbox_.results[0].last());
  EXPECT_EQ(activity_.Counts().queries_errored, 1);
  outbox_.result_status = absl::NotFoundError("stream ended");
  agent_->OnQuery(Query("q2"));
  scheduler_.Advance(absl::Milliseconds(1));
  EXPECT_EQ(activity_.Counts().queries_dropped, 1);
  EXPECT_EQ(activity_.Counts().queries_errored, 1);
}

// Behaviour out of range is refused naming the flag.
TEST(ValidateBehaviorTest, NamesTheFlag) {
  EXPECT_OK(ValidateBehavior({}));
  EXPECT_OK(ValidateBehavior({.action_duration = absl::ZeroDuration(),
                              .query_latency = absl::ZeroDuration(),
                              .query_rows = 0}));
  const std::vector<std::pair<SimBehavior, std::string>> cases = {
      {{.action_duration = -absl::Seconds(1)}, "--action-duration"},
      {{.action_duration = absl::InfiniteDuration()}, "--action-duration"},
      {{.action_progress_steps = -1}, "--action-progress-steps"},
      {{.action_progress_steps = 101}, "--action-progress-steps"},
      {{.action_failure_rate = 1.01}, "--action-failure-rate"},
      {{.query_latency = -absl::Milliseconds(1)}, "--query-latency"},
      {{.query_error_rate = -0.1}, "--query-error-rate"},
      {{.query_rows = -1}, "--query-rows"},
      {{.query_rows = 1'000'001}, "--query-rows"},
  };
  for (const auto& [behavior, flag] : cases) {
    const absl::Status status = ValidateBehavior(behavior);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_NE(status.message().find(flag), std::string::npos) << status.message();
  }
}

}  // namespace
}  // namespace fleet::agent
