// End-to-end: agent-sim runs 200 agents over 10 connections against a real fleetd while fleetctl
// changes the policy; the rollout reaches every agent, the report adds up, and a second run with
// the same state dir resumes as the same agents without enrolling again.

#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/agent_sim_process.h"
#include "tests/testing/fleetctl_runner.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace fleet {
namespace {

using testing::CommandResult;
using testing::Subprocess;
using testing::TempDir;

constexpr int kAgents = 200;

// The notes that never change make the document bigger than a patch of the level, so the change
// comes as a DELTA (a DELTA is sent only when smaller than the FULL document).
std::string Policy(const std::string& level) {
  return absl::StrCat("kind: Policy\nmetadata: {name: sim}\nspec: {logs: {level: ", level,
                      "}, paths: [/var/log], notes: ", std::string(200, 'n'), "}\n");
}

class AgentSimE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(fleetd_.Start(Policy("info"), "sim", FleetdFlags()));
  }
  virtual std::vector<std::string> FleetdFlags() { return {}; }

  CommandResult Fleetctl(const std::vector<std::string>& args,
                         const std::optional<std::string>& input = std::nullopt) {
    return fleetd_.Fleetctl(args, input);
  }

  // Starts agent-sim in the background, bounded to 5 minutes in case the test stops early.
  std::unique_ptr<Subprocess> StartSim(const std::string& report) {
    return fleetd_.StartSim({"--agents", absl::StrCat(kAgents), "--connections", "10",
                             "--state-dir", tmp_.Sub("state"), "--duration", "5m", "--report",
                             report});
  }

  // Polls `rollout status sim -o json` (bounded: 120 s) until every agent acked `revision`.
  void AwaitAllAcked(int revision) {
    nlohmann::json status;
    for (int attempt = 0; attempt < 600; ++attempt) {
      status = nlohmann::json::parse(Fleetctl({"rollout", "status", "sim", "-o", "json"}).out,
                                     nullptr, false);
      if (!status.is_discarded() && status["spec"]["revision"] == revision &&
          status["status"]["acked"] == kAgents) {
        return;
      }
      absl::SleepFor(absl::Milliseconds(200));
    }
    ADD_FAILURE() << "not all agents acked revision " << revision << ": " << status.dump();
  }

  int64_t TokenUses() {
    nlohmann::json tokens = nlohmann::json::parse(Fleetctl({"get", "tokens", "-o", "json"}).out);
    return tokens.at("items").at(0).at("status").at("uses").get<int64_t>();
  }

  TempDir tmp_;
  testing::AgentSimFleetd fleetd_{{FLEETD_BIN, FLEETCTL_BIN, AGENT_SIM_BIN}};
};

// 200 agents get the policy and a change, ack both, and report it; a second run with the same
// state dir connects as the same agents, enrolling none.
TEST_F(AgentSimE2eTest, RollsOutToEveryAgentAndResumesWithoutEnrolling) {
  std::unique_ptr<Subprocess> sim = StartSim(tmp_.Sub("report1.json"));
  ASSERT_NE(sim, nullptr);
  ASSERT_NO_FATAL_FAILURE(AwaitAllAcked(1));
  ASSERT_EQ(Fleetctl({"apply", "-f", "-"}, Policy("debug")).exit_code, 0);
  ASSERT_NO_FATAL_FAILURE(AwaitAllAcked(2));
  nlohmann::json report = testing::StopAgentSim(*sim, tmp_.Sub("report1.json"));
  EXPECT_EQ(report["agents"], kAgents) << report.dump();
  EXPECT_EQ(report["enrolled"], kAgents) << report.dump();
  EXPECT_EQ(report["connected"], kAgents) << report.dump();
  EXPECT_GE(report["updates"]["delta"], kAgents) << report.dump();
  EXPECT_GE(report["updates"]["full"], kAgents) << report.dump();
  EXPECT_GE(report["acks"], 2 * kAgents) << report.dump();
  EXPECT_EQ(report["nacks"], 0) << report.dump();
  EXPECT_EQ(report["errors"], 0) << report.dump();
  EXPECT_GE(report["latency_ms"]["max"], report["latency_ms"]["p50"]) << report.dump();
  EXPECT_EQ(TokenUses(), kAgents);

  sim = StartSim(tmp_.Sub("report2.json"));
  ASSERT_NE(sim, nullptr);
  // Rollout status already says 200 acked from the first run; agent-sim's progress line is what
  // shows that this run's agents are back (it prints one every 5 s).
  ASSERT_TRUE(sim->WaitForStderr(
      absl::StrCat(kAgents, "/", kAgents, " connected, ", kAgents, " updates applied"),
      absl::Seconds(120)));
  report = testing::StopAgentSim(*sim, tmp_.Sub("report2.json"));
  EXPECT_EQ(report["enrolled"], kAgents) << report.dump();
  EXPECT_EQ(report["connected"], kAgents) << report.dump();
  // Nothing applied is kept across runs: each agent starts over with the FULL document.
  EXPECT_GE(report["acks"], kAgents) << report.dump();
  EXPECT_EQ(report["errors"], 0) << report.dump();
  EXPECT_EQ(TokenUses(), kAgents);
  nlohmann::json agents =
      nlohmann::json::parse(Fleetctl({"get", "agents", "-o", "json"}).out)["items"];
  EXPECT_EQ(agents.size(), static_cast<size_t>(kAgents));
}

// fleetd asks for a heartbeat every second (offline after three missed); agent-sim's agents send
// them from its timer thread (AgentConnectionOptions::timers), so agents left idle for 5 s are
// all still online and none had to reconnect.
class AgentSimHeartbeatE2eTest : public AgentSimE2eTest {
 protected:
  std::vector<std::string> FleetdFlags() override { return {"--heartbeat-interval", "1s"}; }
};

TEST_F(AgentSimHeartbeatE2eTest, IdleAgentsStayOnline) {
  std::unique_ptr<Subprocess> sim = StartSim(tmp_.Sub("report.json"));
  ASSERT_NE(sim, nullptr);
  ASSERT_NO_FATAL_FAILURE(AwaitAllAcked(1));
  absl::SleepFor(absl::Seconds(5));
  const nlohmann::json agents =
      nlohmann::json::parse(Fleetctl({"get", "agents", "-o", "json"}).out)["items"];
  ASSERT_EQ(agents.size(), static_cast<size_t>(kAgents));
  int online = 0;
  for (const nlohmann::json& agent : agents) {
    if (agent["status"]["connection"] == "online") ++online;
  }
  EXPECT_EQ(online, kAgents);
  const nlohmann::json report = testing::StopAgentSim(*sim, tmp_.Sub("report.json"));
  EXPECT_EQ(report["reconnects"], 0) << report.dump();
  EXPECT_EQ(report["errors"], 0) << report.dump();
}

}  // namespace
}  // namespace fleet
