// End-to-end: the real fleetctl against a real fleetd for actions and live queries, agents played
// by raw agent streams (tests/testing/test_agent.h): action create --watch and status --watch
// exit codes, describe action and get actions, cancel, query's rows, progress, summary and exit
// codes, and the completion of action ids.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fleetctl_runner.h"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_agent.h"

namespace fleet {
namespace {

using testing::CommandResult;
using testing::FleetdProcess;
using testing::Subprocess;
using testing::TempDir;
using testing::TestAgent;

constexpr char kPolicy[] =
    "kind: Policy\nmetadata:\n  name: linux-servers\nspec:\n  logs:\n    level: info\n";

class FleetctlActionE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FLEETD_BIN, tmp_.Sub("data")));
    CommandResult applied = Fleetctl({"apply", "-f", "-"}, kPolicy);
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  CommandResult Fleetctl(const std::vector<std::string>& args,
                         const std::optional<std::string>& input = std::nullopt) {
    return testing::RunFleetctl(FLEETCTL_BIN, *fleetd_, tmp_.Sub("config"), args, "", input);
  }

  // fleetctl with `args`, running while the test plays the agents.
  std::unique_ptr<Subprocess> StartFleetctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {FLEETCTL_BIN, "--address", fleetd_->admin_address(),
                                     "--token-file", fleetd_->bootstrap_token_file()};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<std::unique_ptr<Subprocess>> started =
        Subprocess::Start(argv, {"XDG_CONFIG_HOME=" + tmp_.Sub("config")});
    EXPECT_TRUE(started.ok()) << started.status();
    return started.ok() ? *std::move(started) : nullptr;
  }

  // Waits for `process` to exit and returns what it printed.
  static CommandResult Finish(Subprocess& process) {
    CommandResult result;
    process.DrainBoth(absl::Seconds(90), result.out, result.err);
    result.exit_code = testing::ExitCode(process.Wait(absl::Seconds(30)));
    return result;
  }

  nlohmann::json Json(std::vector<std::string> args) {
    args.insert(args.end(), {"-o", "json"});
    CommandResult result = Fleetctl(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return nlohmann::json::parse(result.out, nullptr, false);
  }

  // Enrolls an agent of linux-servers under `hostname` with label env=`env` (left offline).
  v1::EnrollResponse Enroll(const std::string& hostname, const std::string& env = "prod") {
    nlohmann::json token = Json({"token", "create", "--policy", "linux-servers"});
    v1::EnrollResponse enrolled;
    grpc::Status status = testing::EnrollAgent(
        fleetd_->agent_address(), token["secret"].get<std::string>(), hostname, &enrolled);
    EXPECT_TRUE(status.ok()) << status.error_message();
    CommandResult labeled = Fleetctl({"agent", "label", enrolled.agent_id(), "env=" + env});
    EXPECT_EQ(labeled.exit_code, 0) << labeled.err;
    return enrolled;
  }

  // Connects `identity` and says Hello; it is online once fleetd has the stream.
  std::unique_ptr<TestAgent> Connect(const v1::EnrollResponse& identity) {
    auto agent =
        std::make_unique<TestAgent>(fleetd_->agent_address(), identity, "", absl::Seconds(120));
    EXPECT_TRUE(agent->Hello());
    return agent;
  }

  // Waits until `get agents ID` says online: queries ask only agents online when they start.
  void WaitOnline(const std::string& agent_id) {
    // Bounded: 200 tries, 50 ms apart.
    for (int i = 0; i < 200; ++i) {
      nlohmann::json agent = Json({"get", "agent", agent_id});
      if (agent["status"]["connection"] == "online") return;
      absl::SleepFor(absl::Milliseconds(50));
    }
    ADD_FAILURE() << "agent " << agent_id << " never came online";
  }

  // The next AgentAction on `agent`'s stream; nullopt when the stream ends first.
  static std::optional<v1::AgentAction> NextAction(TestAgent& agent) {
    while (std::optional<v1::ServerMessage> message = agent.Read()) {
      if (message->has_action()) return message->action();
    }
    return std::nullopt;
  }

  static std::optional<v1::AgentQuery> NextQuery(TestAgent& agent) {
    while (std::optional<v1::ServerMessage> message = agent.Read()) {
      if (message->has_query()) return message->query();
    }
    return std::nullopt;
  }

  static void Report(TestAgent& agent, const std::string& id, v1::ActionStatus::State state,
                     const std::string& message = "", int progress = 0) {
    v1::AgentMessage report;
    report.mutable_action_status()->set_id(id);
    report.mutable_action_status()->set_state(state);
    report.mutable_action_status()->set_message(message);
    report.mutable_action_status()->set_progress_percent(progress);
    EXPECT_TRUE(agent.Send(report));
  }

  static void Answer(TestAgent& agent, const std::string& id, const std::string& rows_json,
                     const std::string& error = "") {
    v1::AgentMessage result;
    result.mutable_query_result()->set_id(id);
    result.mutable_query_result()->set_rows_json(rows_json);
    result.mutable_query_result()->set_error(error);
    result.mutable_query_result()->set_last(true);
    EXPECT_TRUE(agent.Send(result));
  }

  // The action id in "action/ID created".
  static std::string CreatedId(const std::string& out) {
    const size_t slash = out.find("action/");
    if (slash == std::string::npos) return "";
    return out.substr(slash + 7, 12);
  }

  TempDir tmp_;
  std::unique_ptr<FleetdProcess> fleetd_;
};

// create --watch: the agent gets the action with its arguments, reports progress and success,
// and the watch exits 0 with the final counts, having shown the live line.
TEST_F(FleetctlActionE2eTest, CreateWatchExitsZeroOnceEveryTargetSucceeded) {
  const v1::EnrollResponse web = Enroll("web-1");
  std::unique_ptr<TestAgent> agent = Connect(web);
  std::unique_ptr<Subprocess> create =
      StartFleetctl({"action", "create", "upgrade", "--agent", web.agent_id(), "--arg",
                     "version=1.4.2", "--watch", "--timeout", "60s"});
  ASSERT_NE(create, nullptr);
  std::optional<v1::AgentAction> action = NextAction(*agent);
  ASSERT_TRUE(action.has_value());
  EXPECT_EQ(action->type(), "upgrade");
  EXPECT_EQ(nlohmann::json::parse(action->arguments_json())["version"], "1.4.2");
  Report(*agent, action->id(), v1::ActionStatus::ACCEPTED);
  Report(*agent, action->id(), v1::ActionStatus::RUNNING, "downloading", 50);
  Report(*agent, action->id(), v1::ActionStatus::SUCCEEDED, "upgraded", 100);
  CommandResult result = Finish(*create);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(absl::StrContains(result.out, absl::StrCat("action/", action->id(), " created")))
      << result.out;
  EXPECT_TRUE(absl::StrContains(result.err, "1/1 succeeded")) << result.err;
  nlohmann::json got = Json({"get", "action", action->id()});
  EXPECT_EQ(got["kind"], "Action");
  EXPECT_EQ(got["status"]["state"], "done");
  EXPECT_EQ(got["status"]["counts"]["succeeded"], 1);
  EXPECT_EQ(got["spec"]["arguments"]["version"], "1.4.2");
  agent->End();
}

// A target that fails: status --watch exits 4; describe action names it with its message;
// get actions lists the action as done; plain status exits 4 too.
TEST_F(FleetctlActionE2eTest, FailedTargetExitsFourAndIsDescribed) {
  const v1::EnrollResponse web = Enroll("web-1");
  const v1::EnrollResponse db = Enroll("db-1");
  std::unique_ptr<TestAgent> web_agent = Connect(web);
  std::unique_ptr<TestAgent> db_agent = Connect(db);
  CommandResult created = Fleetctl({"action", "create", "restart", "-l", "env=prod"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = CreatedId(created.out);
  ASSERT_EQ(id.size(), 12u) << created.out;
  EXPECT_TRUE(absl::StrContains(created.err, "2 targets")) << created.err;
  std::unique_ptr<Subprocess> watch = StartFleetctl({"action", "status", id, "--watch"});
  ASSERT_NE(watch, nullptr);
  std::optional<v1::AgentAction> to_web = NextAction(*web_agent);
  std::optional<v1::AgentAction> to_db = NextAction(*db_agent);
  ASSERT_TRUE(to_web.has_value() && to_db.has_value());
  Report(*web_agent, id, v1::ActionStatus::SUCCEEDED);
  Report(*db_agent, id, v1::ActionStatus::FAILED, "disk full");
  CommandResult watched = Finish(*watch);
  EXPECT_EQ(watched.exit_code, 4) << watched.err;
  EXPECT_TRUE(absl::StrContains(watched.err, "1 of 2 targets did not succeed")) << watched.err;

  CommandResult described = Fleetctl({"describe", "action", id});
  EXPECT_EQ(described.exit_code, 0) << described.err;
  EXPECT_TRUE(absl::StrContains(described.out, "disk full")) << described.out;
  EXPECT_TRUE(absl::StrContains(described.out, db.agent_id())) << described.out;
  EXPECT_FALSE(absl::StrContains(described.out, absl::StrCat(web.agent_id(), " ")))
      << described.out;
  nlohmann::json detail = Json({"describe", "action", id});
  ASSERT_EQ(detail["status"]["targets"].size(), 1u) << detail.dump();
  EXPECT_EQ(detail["status"]["targets"][0]["state"], "failed");

  CommandResult listed = Fleetctl({"get", "actions", "--state", "done"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_TRUE(absl::StrContains(listed.out, id)) << listed.out;
  CommandResult status = Fleetctl({"action", "status", id});
  EXPECT_EQ(status.exit_code, 4) << status.err;
  web_agent->End();
  db_agent->End();
}

// A watch rides out a fleetd restart: it says it was interrupted, reconnects once fleetd serves
// again, and exits 0 when the target then succeeds.
TEST_F(FleetctlActionE2eTest, WatchRidesOutAFleetdRestart) {
  const v1::EnrollResponse web = Enroll("web-1");
  CommandResult created = Fleetctl({"action", "create", "restart", "--agent", web.agent_id()});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = CreatedId(created.out);
  std::unique_ptr<Subprocess> watch =
      StartFleetctl({"action", "status", id, "--watch", "--timeout", "60s"});
  ASSERT_NE(watch, nullptr);
  // Its live line is out: the watch stream is open.
  ASSERT_TRUE(watch->WaitForStderr("0/1 succeeded", absl::Seconds(30)).has_value());
  ASSERT_OK(fleetd_->Restart());
  ASSERT_TRUE(watch->WaitForStderr("watch interrupted", absl::Seconds(30)).has_value());
  std::unique_ptr<TestAgent> agent = Connect(web);
  ASSERT_TRUE(NextAction(*agent).has_value());
  Report(*agent, id, v1::ActionStatus::SUCCEEDED);
  CommandResult watched = Finish(*watch);
  EXPECT_EQ(watched.exit_code, 0) << watched.err;
}

// An offline target holds the watch until --timeout (exit 5); cancel then makes it cancelled,
// and the watch after it exits 4 (not every target succeeded).
TEST_F(FleetctlActionE2eTest, OfflineTargetTimesOutThenCancel) {
  const v1::EnrollResponse web = Enroll("web-1");
  CommandResult created = Fleetctl({"action", "create", "restart", "--agent", web.agent_id()});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = CreatedId(created.out);
  CommandResult waited = Fleetctl({"action", "status", id, "--watch", "--timeout", "2s"});
  EXPECT_EQ(waited.exit_code, 5) << waited.err;
  EXPECT_TRUE(absl::StrContains(waited.err, "not finished after 2s")) << waited.err;
  EXPECT_TRUE(absl::StrContains(waited.err, "1 pending")) << waited.err;

  CommandResult cancelled = Fleetctl({"action", "cancel", id});
  EXPECT_EQ(cancelled.exit_code, 0) << cancelled.err;
  EXPECT_EQ(cancelled.out, absl::StrCat("action/", id, " cancelled\n"));
  CommandResult after = Fleetctl({"action", "status", id, "--watch", "--timeout", "60s"});
  EXPECT_EQ(after.exit_code, 4) << after.err;
  EXPECT_TRUE(absl::StrContains(after.err, "1 cancelled")) << after.err;
  nlohmann::json got = Json({"get", "action", id});
  EXPECT_EQ(got["status"]["state"], "cancelled");
  EXPECT_EQ(got["status"]["counts"]["cancelled"], 1);
}

// Bad input: an unknown action is exit 3; a type fleetd does not know is a usage error (exit 2)
// from fleetd's INVALID_ARGUMENT.
TEST_F(FleetctlActionE2eTest, UnknownActionAndBadType) {
  const v1::EnrollResponse web = Enroll("web-1");
  EXPECT_EQ(Fleetctl({"describe", "action", "0123456789ab"}).exit_code, 3);
  EXPECT_EQ(Fleetctl({"action", "status", "0123456789ab"}).exit_code, 3);
  EXPECT_EQ(Fleetctl({"action", "cancel", "0123456789ab"}).exit_code, 3);
  CommandResult bad = Fleetctl({"action", "create", "reboot-now", "--agent", web.agent_id()});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_TRUE(absl::StrContains(bad.err, "type")) << bad.err;
}

// A query to a selector with one target online and one offline: the online one's rows on stdout
// as JSON lines with its id and hostname, the summary naming the offline one; exit 0 as soon as
// the online one answered.
TEST_F(FleetctlActionE2eTest, QueryStreamsRowsAndNamesOfflineTargets) {
  const v1::EnrollResponse web = Enroll("web-1");
  const v1::EnrollResponse db = Enroll("db-1");
  std::unique_ptr<TestAgent> agent = Connect(web);
  WaitOnline(web.agent_id());
  std::unique_ptr<Subprocess> query =
      StartFleetctl({"query", "SELECT pid, name FROM processes", "-l", "env=prod"});
  ASSERT_NE(query, nullptr);
  std::optional<v1::AgentQuery> asked = NextQuery(*agent);
  ASSERT_TRUE(asked.has_value());
  EXPECT_EQ(asked->query(), "SELECT pid, name FROM processes");
  Answer(*agent, asked->id(), R"([{"pid": 1, "name": "init"}, {"pid": 7, "name": "sshd"}])");
  CommandResult result = Finish(*query);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  std::vector<std::string> lines = absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << result.out;
  nlohmann::json first = nlohmann::json::parse(lines[0], nullptr, false);
  EXPECT_EQ(first["agentId"], web.agent_id());
  EXPECT_EQ(first["hostname"], "web-1");
  EXPECT_EQ(first["row"]["name"], "init");
  EXPECT_TRUE(absl::StrContains(result.err, "1/2 answered, 0 pending, 1 offline")) << result.err;
  EXPECT_TRUE(absl::StrContains(
      result.err, absl::StrCat("offline (1, not connected, not asked): ", db.agent_id())))
      << result.err;
  agent->End();
}

// An agent that answers with an error: shown on stderr, exit 4. One that does not answer in
// time: named as pending, exit 5.
TEST_F(FleetctlActionE2eTest, QueryErrorsExitFourAndSilenceExitsFive) {
  const v1::EnrollResponse web = Enroll("web-1");
  std::unique_ptr<TestAgent> agent = Connect(web);
  WaitOnline(web.agent_id());
  std::unique_ptr<Subprocess> failing =
      StartFleetctl({"query", "SELECT x", "--agent", web.agent_id()});
  ASSERT_NE(failing, nullptr);
  std::optional<v1::AgentQuery> asked = NextQuery(*agent);
  ASSERT_TRUE(asked.has_value());
  Answer(*agent, asked->id(), "", "no such table: x");
  CommandResult failed = Finish(*failing);
  EXPECT_EQ(failed.exit_code, 4) << failed.err;
  EXPECT_TRUE(absl::StrContains(
      failed.err, absl::StrCat("agent ", web.agent_id(), " (web-1): error: no such table: x")))
      << failed.err;
  EXPECT_EQ(failed.out, "");

  CommandResult silent =
      Fleetctl({"query", "SELECT 1", "--agent", web.agent_id(), "--timeout", "2s"});
  EXPECT_EQ(silent.exit_code, 5) << silent.err;
  EXPECT_TRUE(absl::StrContains(
      silent.err, absl::StrCat("pending (1, asked, no answer in time): ", web.agent_id())))
      << silent.err;
  agent->End();
}

// Action ids complete for describe action, action status and action cancel.
TEST_F(FleetctlActionE2eTest, ActionIdsComplete) {
  const v1::EnrollResponse web = Enroll("web-1");
  CommandResult created = Fleetctl({"action", "create", "diagnostics", "--agent", web.agent_id()});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string id = CreatedId(created.out);
  for (const char* command : {"describe action", "action status", "action cancel"}) {
    std::vector<std::string> args = {"__complete", "--"};
    for (absl::string_view word : absl::StrSplit(command, ' ')) args.emplace_back(word);
    args.push_back("");
    CommandResult completed = Fleetctl(args);
    EXPECT_EQ(completed.exit_code, 0) << completed.err;
    EXPECT_TRUE(absl::StrContains(completed.out, absl::StrCat(id, "\tdiagnostics, active")))
        << command << ": " << completed.out;
  }
}

}  // namespace
}  // namespace fleet
