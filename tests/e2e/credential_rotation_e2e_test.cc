// End-to-end credential rotation (agent.proto, "Credential rotation") with real processes: two
// agent-sim processes with their own state dirs play 300 agents (FLEETD_E2E_ROTATION_AGENTS
// overrides the count), the second one's tenth stopped so that its agents are offline; `fleetctl
// agent rotate-credentials --all` rotates every connected agent on its open stream at once; the
// offline ones rotate when they come back. Every agent ends up online with a rotated secret saved
// in its state dir, and its old secret is refused.

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/agent_sim_process.h"
#include "tests/testing/fleetctl_runner.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_agent.h"

namespace fleet {
namespace {

using testing::CommandResult;
using testing::Subprocess;
using testing::TempDir;

int AgentCount() {
  int count = 300;
  const char* env = std::getenv("FLEETD_E2E_ROTATION_AGENTS");
  if (env != nullptr && (!absl::SimpleAtoi(env, &count) || count < 20)) count = 300;
  return count;
}

// agent id -> secret, as agent-sim saved them in `dir` (sim-<i>.json).
std::map<std::string, std::string> SavedSecrets(const std::string& dir, int agents) {
  std::map<std::string, std::string> secrets;
  for (int i = 0; i < agents; ++i) {
    std::ifstream file(absl::StrCat(dir, "/sim-", i, ".json"));
    nlohmann::json identity = nlohmann::json::parse(file, nullptr, false);
    if (identity.is_discarded()) continue;
    secrets[identity["agent_id"].get<std::string>()] = identity["agent_secret"].get<std::string>();
  }
  return secrets;
}

class CredentialRotationE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(
        fleetd_.Start("kind: Policy\nmetadata: {name: sim}\nspec: {logs: {level: info}}\n", "sim"));
  }

  CommandResult Fleetctl(const std::vector<std::string>& args) { return fleetd_.Fleetctl(args); }

  // agent-sim playing `agents` agents kept in `state_dir`, bounded to 10 minutes.
  std::unique_ptr<Subprocess> StartSim(int agents, const std::string& state_dir,
                                       const std::string& report) {
    return fleetd_.StartSim({"--agents", absl::StrCat(agents), "--connections", "10", "--state-dir",
                             state_dir, "--duration", "10m", "--report", report});
  }

  nlohmann::json Agents() {
    CommandResult listed = Fleetctl({"get", "agents", "-o", "json"});
    EXPECT_EQ(listed.exit_code, 0) << listed.err;
    nlohmann::json agents = nlohmann::json::parse(listed.out, nullptr, false);
    return agents.is_discarded() ? nlohmann::json::array() : agents["items"];
  }

  // Polls `get agents -o json` (bounded: 180 s) until `done(agents)` holds; returns the last
  // listing.
  nlohmann::json AwaitAgents(const std::function<bool(const nlohmann::json&)>& done,
                             const std::string& what) {
    nlohmann::json agents;
    for (int attempt = 0; attempt < 900; ++attempt) {
      agents = Agents();
      if (done(agents)) return agents;
      absl::SleepFor(absl::Milliseconds(200));
    }
    ADD_FAILURE() << "timed out waiting for " << what;
    return agents;
  }

  TempDir tmp_;
  testing::AgentSimFleetd fleetd_{{FLEETD_BIN, FLEETCTL_BIN, AGENT_SIM_BIN}};
};

int CountIf(const nlohmann::json& agents, const std::function<bool(const nlohmann::json&)>& pred) {
  int count = 0;
  for (const nlohmann::json& agent : agents) count += pred(agent) ? 1 : 0;
  return count;
}

bool Online(const nlohmann::json& agent) { return agent["status"]["connection"] == "online"; }
bool Rotated(const nlohmann::json& agent) {
  const nlohmann::json& status = agent["status"];
  return status["secretRotations"].get<int64_t>() >= 1 &&
         status["rotationPendingSince"].is_null() && status["rotationRequestedAt"].is_null();
}

// Rotation of every agent while a tenth of them are offline: the connected ones rotate on their
// open streams, the offline ones when they reconnect; all end up online with new secrets, and
// the old secrets no longer authenticate.
TEST_F(CredentialRotationE2eTest, RotatesEveryAgentWithSomeOffline) {
  const int total = AgentCount();
  const int offline = total / 10;
  const int online = total - offline;
  const std::string state_a = tmp_.Sub("state-a"), state_b = tmp_.Sub("state-b");
  std::unique_ptr<Subprocess> sim_a = StartSim(online, state_a, tmp_.Sub("a1.json"));
  std::unique_ptr<Subprocess> sim_b = StartSim(offline, state_b, tmp_.Sub("b1.json"));
  ASSERT_NE(sim_a, nullptr);
  ASSERT_NE(sim_b, nullptr);
  AwaitAgents([&](const nlohmann::json& agents) { return CountIf(agents, Online) == total; },
              "every agent online");
  nlohmann::json report_b = testing::StopAgentSim(*sim_b, tmp_.Sub("b1.json"));
  EXPECT_EQ(report_b["errors"], 0) << report_b.dump();
  AwaitAgents([&](const nlohmann::json& agents) { return CountIf(agents, Online) == online; },
              "the second simulator's agents offline");
  std::map<std::string, std::string> old_secrets = SavedSecrets(state_a, online);
  const std::map<std::string, std::string> old_b = SavedSecrets(state_b, offline);
  ASSERT_EQ(old_secrets.size(), static_cast<size_t>(online));
  ASSERT_EQ(old_b.size(), static_cast<size_t>(offline));
  old_secrets.insert(old_b.begin(), old_b.end());

  CommandResult rotate = Fleetctl({"agent", "rotate-credentials", "--all", "-o", "json"});
  ASSERT_EQ(rotate.exit_code, 0) << rotate.err;
  const nlohmann::json rotated = nlohmann::json::parse(rotate.out);
  EXPECT_EQ(rotated.size(), static_cast<size_t>(total));
  EXPECT_EQ(rotated[0]["result"], "credential rotation requested");

  // The connected agents rotate without reconnecting; the offline ones wait, still asked.
  nlohmann::json agents = AwaitAgents(
      [&](const nlohmann::json& agents) {
        return CountIf(agents, [](const nlohmann::json& a) { return Online(a) && Rotated(a); }) ==
               online;
      },
      "the connected agents rotated");
  EXPECT_EQ(CountIf(agents,
                    [](const nlohmann::json& a) {
                      return !Online(a) && !a["status"]["rotationRequestedAt"].is_null() &&
                             a["status"]["secretRotations"] == 0;
                    }),
            offline);

  sim_b = StartSim(offline, state_b, tmp_.Sub("b2.json"));
  ASSERT_NE(sim_b, nullptr);
  AwaitAgents(
      [&](const nlohmann::json& agents) {
        return CountIf(agents, [](const nlohmann::json& a) { return Online(a) && Rotated(a); }) ==
               total;
      },
      "every agent online and rotated");

  // What each agent saved is its new secret; every old one is refused.
  std::map<std::string, std::string> new_secrets = SavedSecrets(state_a, online);
  const std::map<std::string, std::string> new_b = SavedSecrets(state_b, offline);
  new_secrets.insert(new_b.begin(), new_b.end());
  ASSERT_EQ(new_secrets.size(), static_cast<size_t>(total));
  for (const auto& [id, secret] : old_secrets) EXPECT_NE(new_secrets[id], secret) << id;
  // One agent of each simulator: with its old secret refused, with its new one welcomed.
  for (const std::string& id : {old_secrets.begin()->first, old_b.begin()->first}) {
    v1::EnrollResponse identity;
    identity.set_agent_id(id);
    identity.set_agent_secret(old_secrets[id]);
    testing::TestAgent refused(fleetd_.process().agent_address(), identity);
    refused.Hello();  // the server may have refused the stream already
    EXPECT_EQ(refused.Status().error_code(), grpc::StatusCode::UNAUTHENTICATED) << id;
    identity.set_agent_secret(new_secrets[id]);
    testing::TestAgent welcomed(fleetd_.process().agent_address(), identity);
    ASSERT_TRUE(welcomed.Hello());
    std::optional<v1::ServerMessage> first = welcomed.Read();
    ASSERT_TRUE(first.has_value()) << welcomed.Status().error_message();
    EXPECT_TRUE(first->has_welcome());
  }

  nlohmann::json report_a = testing::StopAgentSim(*sim_a, tmp_.Sub("a1.json"));
  report_b = testing::StopAgentSim(*sim_b, tmp_.Sub("b2.json"));
  EXPECT_EQ(report_a["rotations"], online) << report_a.dump();
  EXPECT_EQ(report_b["rotations"], offline) << report_b.dump();
  EXPECT_EQ(report_a["errors"], 0) << report_a.dump();
  EXPECT_EQ(report_b["errors"], 0) << report_b.dump();
}

// fleetctl agent rotate-credentials: a table line per agent marked, exit codes like the other
// agent commands (2 without agents or with both ids and a selector, 3 for an unknown id), and a
// viewer may not call it.
TEST_F(CredentialRotationE2eTest, FleetctlOutputAndExitCodes) {
  std::ifstream token_file(fleetd_.token_file());
  std::string token((std::istreambuf_iterator<char>(token_file)), std::istreambuf_iterator<char>());
  v1::EnrollResponse enrolled;
  ASSERT_TRUE(
      testing::EnrollAgent(fleetd_.process().agent_address(), token, "host", &enrolled).ok());

  CommandResult table = Fleetctl({"agent", "rotate-credentials", enrolled.agent_id()});
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_EQ(table.out,
            absl::StrCat("agent/", enrolled.agent_id(), " credential rotation requested\n"));
  CommandResult described = Fleetctl({"get", "agent", enrolled.agent_id(), "-o", "json"});
  ASSERT_EQ(described.exit_code, 0) << described.err;
  nlohmann::json agent = nlohmann::json::parse(described.out)["status"];
  EXPECT_FALSE(agent["rotationRequestedAt"].is_null()) << described.out;
  EXPECT_FALSE(agent["secretIssuedAt"].is_null()) << described.out;
  EXPECT_EQ(agent["secretRotations"], 0);

  EXPECT_EQ(Fleetctl({"agent", "rotate-credentials"}).exit_code, 2);
  EXPECT_EQ(Fleetctl({"agent", "rotate-credentials", enrolled.agent_id(), "-l", "a=b"}).exit_code,
            2);
  CommandResult unknown = Fleetctl({"agent", "rotate-credentials", "0123456789ab"});
  EXPECT_EQ(unknown.exit_code, 3) << unknown.err;

  CommandResult viewer = Fleetctl({"admin-token", "create", "--role", "viewer", "-o", "json"});
  ASSERT_EQ(viewer.exit_code, 0) << viewer.err;
  const std::string viewer_file = tmp_.Sub("viewer.token");
  std::ofstream(viewer_file) << nlohmann::json::parse(viewer.out)["secret"].get<std::string>();
  CommandResult denied =
      testing::RunFleetctl(FLEETCTL_BIN, fleetd_.process(), tmp_.Sub("config"),
                           {"agent", "rotate-credentials", "--all"}, viewer_file, std::nullopt);
  EXPECT_EQ(denied.exit_code, 6) << denied.err;
}

}  // namespace
}  // namespace fleet
