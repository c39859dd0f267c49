// End-to-end: agent-sim runs 40 agents over 4 connections against a real fleetd; a live query
// through the admin API gets the synthetic rows of every agent, and an upgrade reaches succeeded
// on every agent, each reconnecting with the new version; agent-sim's report counts them.

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fleet/v1/admin.grpc.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/agent_sim_process.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace fleet {
namespace {

using testing::Subprocess;
using testing::TempDir;

constexpr int kAgents = 40;
constexpr int kRowsPerAgent = 3;

class AgentSimActionsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(
        fleetd_.Start("kind: Policy\nmetadata: {name: sim}\nspec: {logs: {level: info}}\n", "sim"));
    std::ifstream file(fleetd_.process().bootstrap_token_file());
    std::getline(file, token_);
    admin_ = v1::AdminService::NewStub(
        grpc::CreateChannel(fleetd_.process().admin_address(), grpc::InsecureChannelCredentials()));
  }

  // Starts agent-sim (bounded to 5 minutes) with actions lasting `action_duration`, and waits
  // until every agent is connected.
  void StartSim(const std::string& action_duration) {
    sim_ = fleetd_.StartSim({"--agents", absl::StrCat(kAgents), "--connections", "4", "--state-dir",
                             tmp_.Sub("state"), "--duration", "5m", "--report",
                             tmp_.Sub("report.json"), "--action-duration", action_duration,
                             "--action-progress-steps", "2", "--query-latency", "20ms",
                             "--query-rows", absl::StrCat(kRowsPerAgent)});
    ASSERT_NE(sim_, nullptr);
    // agent-sim's progress line (every 5 s) says when all are connected.
    ASSERT_TRUE(
        sim_->WaitForStderr(absl::StrCat(kAgents, "/", kAgents, " connected"), absl::Seconds(120)));
  }

  // GetAction, polled every 200 ms until `until` holds of it (bounded: 120 s); the last seen.
  v1::Action AwaitAction(const std::string& id,
                         const std::function<bool(const v1::Action&)>& until) {
    v1::Action action;
    for (int attempt = 0; attempt < 600; ++attempt) {
      v1::GetActionRequest get;
      get.set_id(id);
      const grpc::Status got = admin_->GetAction(Context().get(), get, &action);
      EXPECT_TRUE(got.ok()) << got.error_message();
      if (!got.ok() || until(action)) break;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return action;
  }

  // A context for one admin call as the bootstrap admin, bounded to `timeout`.
  std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = absl::Seconds(30)) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    context->AddMetadata("authorization", "Bearer " + token_);
    return context;
  }

  static v1::Targets SimAgents() {
    v1::Targets targets;
    targets.set_selector("sim=true");
    return targets;
  }

  TempDir tmp_;
  testing::AgentSimFleetd fleetd_{{FLEETD_BIN, FLEETCTL_BIN, AGENT_SIM_BIN}};
  std::string token_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<Subprocess> sim_;
};

// A query to every agent gets each one's synthetic rows and ends with all answered; the report
// counts it.
TEST_F(AgentSimActionsE2eTest, QueryIsAnsweredByEveryAgent) {
  ASSERT_NO_FATAL_FAILURE(StartSim("300ms"));
  v1::RunQueryRequest query;
  query.set_query("select * from hosts");
  *query.mutable_targets() = SimAgents();
  std::unique_ptr<grpc::ClientContext> query_context = Context(absl::Seconds(60));
  std::unique_ptr<grpc::ClientReader<v1::QueryEvent>> events =
      admin_->RunQuery(query_context.get(), query);
  v1::QueryEvent event;
  std::set<std::string> answered;
  int rows = 0;
  std::optional<v1::QuerySummary> summary;
  for (int read = 0; read < 10'000 && events->Read(&event); ++read) {
    if (event.has_results()) {
      for (const v1::QueryRows& got : event.results().rows()) {
        EXPECT_TRUE(got.error().empty()) << got.error();
        const nlohmann::json parsed = nlohmann::json::parse(got.rows_json(), nullptr, false);
        ASSERT_TRUE(parsed.is_array()) << got.rows_json();
        for (const nlohmann::json& row : parsed) {
          EXPECT_EQ(row["host"], got.hostname()) << row.dump();
          ++rows;
        }
        if (got.last()) answered.insert(got.agent_id());
      }
    } else if (event.has_summary()) {
      summary = event.summary();
    }
  }
  const grpc::Status query_status = events->Finish();
  ASSERT_TRUE(query_status.ok()) << query_status.error_code() << " "
                                 << query_status.error_message();
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->progress().targets(), kAgents);
  EXPECT_EQ(summary->progress().answered(), kAgents);
  EXPECT_EQ(summary->progress().errors(), 0);
  EXPECT_EQ(summary->progress().offline(), 0);
  EXPECT_FALSE(summary->timed_out());
  EXPECT_EQ(answered.size(), static_cast<size_t>(kAgents));
  EXPECT_EQ(rows, kAgents * kRowsPerAgent);

  const nlohmann::json report = testing::StopAgentSim(*sim_, tmp_.Sub("report.json"));
  EXPECT_EQ(report["queries"]["received"], kAgents) << report.dump();
  EXPECT_EQ(report["queries"]["answered"], kAgents) << report.dump();
  EXPECT_EQ(report["queries"]["errored"], 0) << report.dump();
  EXPECT_EQ(report["errors"], 0) << report.dump();
}

// An upgrade reaches succeeded on every agent, each reconnecting with the new version; the report
// counts it.
TEST_F(AgentSimActionsE2eTest, UpgradeSucceedsOnEveryAgent) {
  ASSERT_NO_FATAL_FAILURE(StartSim("300ms"));
  v1::CreateActionRequest create;
  create.set_type("upgrade");
  create.set_arguments_json(R"({"version":"9.9.9"})");
  *create.mutable_targets() = SimAgents();
  v1::Action action;
  const grpc::Status created = admin_->CreateAction(Context().get(), create, &action);
  ASSERT_TRUE(created.ok()) << created.error_message();
  EXPECT_EQ(action.counts().targets(), kAgents);
  action = AwaitAction(action.id(), [](const v1::Action& now) { return now.done(); });
  ASSERT_TRUE(action.done()) << action.DebugString();
  EXPECT_EQ(action.counts().succeeded(), kAgents) << action.DebugString();

  // Each agent reconnected with the new version in its Hello (polled: bounded to 30 s).
  v1::ListAgentsRequest list;
  list.set_selector("sim=true");
  v1::ListAgentsResponse agents;
  const auto upgraded = [&agents] {
    return agents.agents_size() == kAgents &&
           std::all_of(agents.agents().begin(), agents.agents().end(),
                       [](const v1::Agent& agent) { return agent.agent_version() == "9.9.9"; });
  };
  for (int attempt = 0; attempt < 150; ++attempt) {
    const grpc::Status listed = admin_->ListAgents(Context().get(), list, &agents);
    ASSERT_TRUE(listed.ok()) << listed.error_message();
    if (upgraded()) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(upgraded()) << agents.DebugString().substr(0, 2000);

  const nlohmann::json report = testing::StopAgentSim(*sim_, tmp_.Sub("report.json"));
  EXPECT_EQ(report["actions"]["received"], kAgents) << report.dump();
  EXPECT_EQ(report["actions"]["succeeded"], kAgents) << report.dump();
  EXPECT_EQ(report["actions"]["failed"], 0) << report.dump();
  EXPECT_EQ(report["actions"]["rejected"], 0) << report.dump();
  EXPECT_EQ(report["errors"], 0) << report.dump();
}

// A cancel stops an action running on every agent: each answers CANCELLED.
TEST_F(AgentSimActionsE2eTest, CancelStopsRunningActions) {
  ASSERT_NO_FATAL_FAILURE(StartSim("10m"));
  v1::CreateActionRequest create;
  create.set_type("diagnostics");
  *create.mutable_targets() = SimAgents();
  v1::Action action;
  const grpc::Status created = admin_->CreateAction(Context().get(), create, &action);
  ASSERT_TRUE(created.ok()) << created.error_message();
  // Every agent accepted it (or reports its first progress step).
  action = AwaitAction(action.id(), [](const v1::Action& now) {
    return now.counts().delivered() + now.counts().running() == kAgents;
  });
  ASSERT_EQ(action.counts().delivered() + action.counts().running(), kAgents)
      << action.DebugString();
  v1::CancelActionRequest cancel;
  cancel.set_id(action.id());
  const grpc::Status cancelled = admin_->CancelAction(Context().get(), cancel, &action);
  ASSERT_TRUE(cancelled.ok()) << cancelled.error_message();
  action = AwaitAction(action.id(), [](const v1::Action& now) { return now.done(); });
  ASSERT_TRUE(action.done()) << action.DebugString();
  EXPECT_EQ(action.counts().cancelled(), kAgents) << action.DebugString();

  const nlohmann::json report = testing::StopAgentSim(*sim_, tmp_.Sub("report.json"));
  EXPECT_EQ(report["actions"]["received"], kAgents) << report.dump();
  EXPECT_EQ(report["actions"]["cancelled"], kAgents) << report.dump();
  EXPECT_EQ(report["actions"]["succeeded"], 0) << report.dump();
  EXPECT_EQ(report["errors"], 0) << report.dump();
}

}  // namespace
}  // namespace fleet
