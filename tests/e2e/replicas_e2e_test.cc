// End-to-end: two fleetd replicas on one real etcd (--store etcd://), agent-sim's agents spread
// over both (--server A,B). A change through either replica reaches every agent; when one replica
// is killed with SIGKILL its agents move to the other and resume by delta, without a FULL
// document. On a 3-member cluster, a replica and an etcd member killed during a rollout and an
// action lose nothing.
#include <signal.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/agent_sim_process.h"
#include "tests/testing/etcd_process.h"
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

constexpr int kAgents = 60;

// As in agent_sim_e2e_test.cc: notes make the document larger than a patch, so changes are
// DELTAs.
std::string Policy(const std::string& level) {
  return absl::StrCat("kind: Policy\nmetadata: {name: sim}\nspec: {logs: {level: ", level,
                      "}, notes: ", std::string(200, 'n'), "}\n");
}

class ReplicasE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (EtcdMembers() == 1) {
      ASSERT_OK_AND_ASSIGN(std::unique_ptr<testing::EtcdProcess> etcd,
                           testing::EtcdProcess::Start());
      etcd_.push_back(std::move(etcd));
    } else {
      ASSERT_OK_AND_ASSIGN(etcd_, testing::EtcdProcess::StartCluster(EtcdMembers()));
    }
    std::vector<std::string> endpoints;
    for (const std::unique_ptr<testing::EtcdProcess>& member : etcd_) {
      endpoints.push_back(member->endpoint());
    }
    // etcd's smallest request size fleetd takes (64 KiB, against a default of 1.5 MiB), so that
    // a few thousand agents already need a live query's ask split into parts.
    const std::vector<std::string> store = {"--store", "etcd://" + absl::StrJoin(endpoints, ","),
                                            "--etcd-max-request-bytes", "65536"};
    ASSERT_NO_FATAL_FAILURE(a_.Start(Policy("info"), "sim", store));
    ASSERT_OK_AND_ASSIGN(b_, FleetdProcess::Start({.binary = FLEETD_BIN,
                                                   .data_dir = tmp_.Sub("b"),
                                                   .extra_flags = store,
                                                   .log_path = tmp_.Sub("b.log")}));
  }

  // How many members the etcd cluster under the replicas has; the replicas list them all, the
  // first first.
  virtual int EtcdMembers() const { return 1; }

  // fleetctl against `replica` as the bootstrap admin (the first replica wrote its token; the
  // store both share holds it).
  CommandResult Fleetctl(const FleetdProcess& replica, const std::vector<std::string>& args,
                         const std::optional<std::string>& input = std::nullopt) {
    return testing::RunFleetctl(FLEETCTL_BIN, replica, tmp_.Sub("config"), args,
                                a_.process().bootstrap_token_file(), input);
  }

  // How many agents `replica` counts as having acked `revision` of the policy (-1 on error).
  int Acked(const FleetdProcess& replica, int revision) {
    nlohmann::json status = nlohmann::json::parse(
        Fleetctl(replica, {"rollout", "status", "sim", "-o", "json"}).out, nullptr, false);
    if (status.is_discarded() || status["spec"]["revision"] != revision) return -1;
    return status["status"]["acked"].get<int>();
  }

  // agent-sim with `agents` agents over `connections` connections to `servers` ("A" or "A,B"),
  // enrolling with the first replica's token, bounded to 5 minutes, then `flags`; null (and a
  // test failure) when it cannot start.
  std::unique_ptr<Subprocess> StartSim(const std::string& servers, int agents, int connections,
                                       const std::string& report,
                                       const std::vector<std::string>& flags = {}) {
    std::vector<std::string> args = {AGENT_SIM_BIN,
                                     "--server",
                                     servers,
                                     "--enroll-token-file",
                                     a_.token_file(),
                                     "--agents",
                                     absl::StrCat(agents),
                                     "--connections",
                                     absl::StrCat(connections),
                                     "--state-dir",
                                     tmp_.Sub("state"),
                                     "--duration",
                                     "5m",
                                     "--report",
                                     report};
    args.insert(args.end(), flags.begin(), flags.end());
    absl::StatusOr<std::unique_ptr<Subprocess>> sim = Subprocess::Start(args);
    EXPECT_OK(sim);
    return sim.ok() ? *std::move(sim) : nullptr;
  }
  std::string BothReplicas() { return a_.process().agent_address() + "," + b_->agent_address(); }

  // Waits until both replicas list `agents` agents online.
  void AwaitOnline(int agents) {
    Await("both replicas list every agent online",
          [&] { return Online(a_.process()) == agents && Online(*b_) == agents; });
  }

  // How many agents `replica` lists as online (-1 on error).
  int Online(const FleetdProcess& replica) {
    nlohmann::json agents = nlohmann::json::parse(
        Fleetctl(replica, {"get", "agents", "-o", "json"}).out, nullptr, false);
    if (agents.is_discarded()) return -1;
    int online = 0;
    for (const nlohmann::json& agent : agents["items"]) {
      if (agent["status"]["connection"] == "online") ++online;
    }
    return online;
  }

  // Polls (bounded: 120 s) until `done` holds.
  void Await(const std::string& what, const std::function<bool()>& done) {
    for (int attempt = 0; attempt < 600; ++attempt) {
      if (done()) return;
      absl::SleepFor(absl::Milliseconds(200));
    }
    ADD_FAILURE() << "timed out waiting until " << what;
  }

  testing::TempDir tmp_;
  std::vector<std::unique_ptr<testing::EtcdProcess>> etcd_;
  testing::AgentSimFleetd a_{{FLEETD_BIN, FLEETCTL_BIN, AGENT_SIM_BIN}};
  std::unique_ptr<FleetdProcess> b_;
};

TEST_F(ReplicasE2eTest, AgentsOfAKilledReplicaResumeOnTheOtherByDelta) {
  const std::string report = tmp_.Sub("report.json");
  std::unique_ptr<Subprocess> sim = StartSim(BothReplicas(), kAgents, 4, report);
  ASSERT_NE(sim, nullptr);
  // Agent i starts on replica i % 2: each holds half, and each counts every agent's ack.
  Await("both replicas count every agent's ack of revision 1",
        [&] { return Acked(a_.process(), 1) == kAgents && Acked(*b_, 1) == kAgents; });
  EXPECT_EQ(Online(a_.process()), kAgents);
  EXPECT_EQ(Online(*b_), kAgents);
  // A change through replica A reaches the agents replica B holds too.
  ASSERT_EQ(Fleetctl(a_.process(), {"apply", "-f", "-"}, Policy("notice")).exit_code, 0);
  Await("both replicas count every agent's ack of revision 2",
        [&] { return Acked(a_.process(), 2) == kAgents && Acked(*b_, 2) == kAgents; });

  kill(a_.process().pid(), SIGKILL);
  Await("every agent acked revision 2 on the surviving replica",
        [&] { return Acked(*b_, 2) == kAgents && Online(*b_) == kAgents; });

  ASSERT_EQ(Fleetctl(*b_, {"apply", "-f", "-"}, Policy("debug")).exit_code, 0);
  Await("every agent acked revision 3", [&] { return Acked(*b_, 3) == kAgents; });

  nlohmann::json result = testing::StopAgentSim(*sim, report);
  EXPECT_EQ(result["connected"], kAgents) << result.dump();
  // One FULL document per agent, on its first stream; after moving, each resumed from what it
  // had applied, and the change came as a DELTA.
  EXPECT_EQ(result["updates"]["full"], kAgents) << result.dump();
  EXPECT_GE(result["updates"]["delta"], 2 * kAgents) << result.dump();
  EXPECT_GE(result["reconnects"], kAgents / 2) << result.dump();
  EXPECT_EQ(result["nacks"], 0) << result.dump();
}

// Agents held by a replica that dies, and that go nowhere else, turn offline on the other
// replica once the dead one's lease ends (10 s), and their acks still count.
TEST_F(ReplicasE2eTest, AgentsOfADeadReplicaGoOfflineWhenItsLeaseEnds) {
  const std::string report = tmp_.Sub("report.json");
  std::unique_ptr<Subprocess> sim = StartSim(a_.process().agent_address(), 20, 2, report);
  ASSERT_NE(sim, nullptr);
  Await("the other replica lists every agent online", [&] { return Online(*b_) == 20; });
  EXPECT_EQ(Acked(*b_, 1), 20);

  kill(a_.process().pid(), SIGKILL);
  Await("the other replica lists every agent offline", [&] { return Online(*b_) == 0; });
  EXPECT_EQ(Acked(*b_, 1), 20);
  sim->Signal(SIGKILL);
  sim->Wait(absl::Seconds(30));
}

// An agent's second stream, on the other replica, takes its session over: the first replica
// ends the old stream (ABORTED, as a replaced stream on one fleetd), and both replicas list the
// agent online once, held by the second.
TEST_F(ReplicasE2eTest, StreamOnAnotherReplicaTakesTheSessionOver) {
  std::ifstream token_file(a_.token_file());
  const std::string token((std::istreambuf_iterator<char>(token_file)),
                          std::istreambuf_iterator<char>());
  v1::EnrollResponse identity;
  ASSERT_TRUE(testing::EnrollAgent(a_.process().agent_address(), token, "moving", &identity).ok());
  testing::TestAgent old_stream(a_.process().agent_address(), identity);
  ASSERT_TRUE(old_stream.Hello());
  ASSERT_TRUE(old_stream.ApplyNext().has_value());
  Await("the other replica lists the agent online", [&] { return Online(*b_) == 1; });

  testing::TestAgent new_stream(b_->agent_address(), identity);
  ASSERT_TRUE(new_stream.Hello());
  EXPECT_EQ(old_stream.Status().error_code(), grpc::StatusCode::ABORTED);
  EXPECT_TRUE(new_stream.ApplyNext().has_value());
  absl::SleepFor(absl::Seconds(1));  // past a state flush on each replica
  Await("both replicas list the agent online and acked", [&] {
    return Online(a_.process()) == 1 && Online(*b_) == 1 && Acked(a_.process(), 1) == 1 &&
           Acked(*b_, 1) == 1;
  });
}

// A token's max-uses holds across replicas: 40 enrollments at once, half through each replica,
// with a token of 10 uses enroll exactly 10 agents.
TEST_F(ReplicasE2eTest, MaxUsesIsExactAcrossReplicas) {
  CommandResult created =
      Fleetctl(*b_, {"token", "create", "--policy", "sim", "--max-uses", "10", "-o", "json"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string token = nlohmann::json::parse(created.out)["secret"].get<std::string>();
  std::atomic<int> enrolled{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 40; ++i) {
    threads.emplace_back([&, i] {
      const std::string& address = i % 2 == 0 ? a_.process().agent_address() : b_->agent_address();
      v1::EnrollResponse response;
      const grpc::Status status =
          testing::EnrollAgent(address, token, absl::StrCat("host-", i), &response);
      ++(status.ok() ? enrolled : refused);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(enrolled.load(), 10);
  EXPECT_EQ(refused.load(), 30);
  nlohmann::json agents =
      nlohmann::json::parse(Fleetctl(a_.process(), {"get", "agents", "-o", "json"}).out);
  EXPECT_EQ(agents["items"].size(), 10u);
}

// An action to agents held by both replicas: created through one, each replica delivers it to
// its own agents, and both count every target's result (each replica writes what its agents
// report; the other takes it from the store).
TEST_F(ReplicasE2eTest, ActionToAgentsOnBothReplicasIsCountedOnBoth) {
  const std::string report = tmp_.Sub("report.json");
  std::unique_ptr<Subprocess> sim = StartSim(BothReplicas(), 20, 2, report);
  ASSERT_NE(sim, nullptr);
  AwaitOnline(20);
  CommandResult created =
      Fleetctl(a_.process(), {"action", "create", "custom", "--arg", "name=probe", "-l", "sim=true",
                              "--watch", "--timeout", "60s"});
  EXPECT_EQ(created.exit_code, 0) << created.out << created.err;
  Await("the other replica counts every target succeeded", [&] {
    nlohmann::json actions =
        nlohmann::json::parse(Fleetctl(*b_, {"get", "actions", "-o", "json"}).out, nullptr, false);
    return !actions.is_discarded() && actions["items"].size() == 1 &&
           actions["items"][0]["status"]["counts"]["succeeded"] == 20 &&
           actions["items"][0]["status"]["state"] == "done";
  });
  nlohmann::json result = testing::StopAgentSim(*sim, report);
  EXPECT_EQ(result["actions"]["succeeded"], 20) << result.dump();
}

// A live query through one replica to agents held by both: the other replica asks its own and
// relays their answers; every agent answers and the query ends as soon as they did.
TEST_F(ReplicasE2eTest, QueryToAgentsOnBothReplicasIsAnsweredByAll) {
  const std::string report = tmp_.Sub("report.json");
  std::unique_ptr<Subprocess> sim = StartSim(BothReplicas(), 20, 2, report);
  ASSERT_NE(sim, nullptr);
  AwaitOnline(20);
  const absl::Time started = absl::Now();
  CommandResult query = Fleetctl(
      a_.process(), {"query", "SELECT * FROM os_version", "-l", "sim=true", "--timeout", "60s"});
  EXPECT_EQ(query.exit_code, 0) << query.err;
  EXPECT_LT(absl::Now() - started, absl::Seconds(30)) << "the query waited out its deadline";
  std::set<std::string> answered;
  for (absl::string_view line : absl::StrSplit(query.out, '\n', absl::SkipEmpty())) {
    nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(row.is_discarded()) << line;
    answered.insert(row["agentId"].get<std::string>());
  }
  EXPECT_EQ(answered.size(), 20u) << query.out << query.err;
  EXPECT_TRUE(absl::StrContains(query.err, "20/20 answered")) << query.err;
  nlohmann::json result = testing::StopAgentSim(*sim, report);
  EXPECT_EQ(result["queries"]["answered"], 20) << result.dump();
}

// A query to more agents on the other replica than one ask to it can name (4,000 ids of 17
// bytes outgrow etcd's 64 KiB requests): the ask goes in parts, each asked and answered, and
// every agent answers.
TEST_F(ReplicasE2eTest, QueryToMoreAgentsThanOneAskHoldsIsAnsweredByAll) {
  constexpr int kMany = 4000;
  const std::string report = tmp_.Sub("report.json");
  std::unique_ptr<Subprocess> sim = StartSim(b_->agent_address(), kMany, 10, report);
  ASSERT_NE(sim, nullptr);
  AwaitOnline(kMany);
  CommandResult query = Fleetctl(
      a_.process(), {"query", "SELECT * FROM os_version", "-l", "sim=true", "--timeout", "60s"});
  EXPECT_EQ(query.exit_code, 0) << query.err;
  std::set<std::string> answered;
  for (absl::string_view line : absl::StrSplit(query.out, '\n', absl::SkipEmpty())) {
    nlohmann::json row = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(row.is_discarded()) << line;
    answered.insert(row["agentId"].get<std::string>());
  }
  EXPECT_EQ(answered.size(), static_cast<size_t>(kMany)) << query.err;
  EXPECT_TRUE(absl::StrContains(query.err, "4,000/4,000 answered")) << query.err;
  nlohmann::json result = testing::StopAgentSim(*sim, report);
  EXPECT_EQ(result["queries"]["answered"], kMany) << result.dump();
}

// fleetctl --address A,B: it moves on from a replica it cannot reach to the next one; host
// names cannot be listed (gRPC resolves one name at a time) and are refused, naming the flag.
TEST_F(ReplicasE2eTest, FleetctlFailsOverBetweenListedReplicas) {
  const std::string token = "--token-file=" + a_.process().bootstrap_token_file();
  auto run = [&](const std::string& addresses) {
    return testing::RunCommand(
        {FLEETCTL_BIN, "--address", addresses, token, "get", "policies", "-o", "name"},
        {"XDG_CONFIG_HOME=" + tmp_.Sub("config")}, std::nullopt, absl::Seconds(60));
  };
  // Port 1 on loopback refuses connections: the replica that is down.
  absl::StatusOr<CommandResult> moved = run("127.0.0.1:1," + b_->admin_address());
  ASSERT_OK(moved.status());
  EXPECT_EQ(moved->exit_code, 0) << moved->err;
  EXPECT_EQ(moved->out, "policy/sim\n");
  absl::StatusOr<CommandResult> names = run("localhost:1," + b_->admin_address());
  ASSERT_OK(names.status());
  EXPECT_EQ(names->exit_code, 2) << names->err;
  EXPECT_TRUE(absl::StrContains(names->err, "--address")) << names->err;
}

// The same two replicas on a 3-member etcd cluster, both talking to member 0 first.
class ReplicasOnAClusterE2eTest : public ReplicasE2eTest {
 protected:
  int EtcdMembers() const override { return 3; }

  // The action's counts as `replica` lists them (null on error).
  nlohmann::json ActionCounts(const FleetdProcess& replica) {
    nlohmann::json actions = nlohmann::json::parse(
        Fleetctl(replica, {"get", "actions", "-o", "json"}).out, nullptr, false);
    if (actions.is_discarded() || actions["items"].size() != 1) return nullptr;
    return actions["items"][0]["status"];
  }
};

// During a rollout and an action (each agent runs it for 3 s), replica A dies with SIGKILL and
// so does the etcd member both replicas talk to. Every agent ends on replica B by delta, acks
// the change and finishes the action there; nothing acknowledged before the kills is lost, and
// a change committed after them goes out too.
TEST_F(ReplicasOnAClusterE2eTest, ReplicaAndEtcdMemberKilledDuringARolloutAndAnAction) {
  constexpr int kOnBoth = 40;
  const std::string report = tmp_.Sub("report.json");
  std::unique_ptr<Subprocess> sim =
      StartSim(BothReplicas(), kOnBoth, 4, report, {"--action-duration", "3s"});
  ASSERT_NE(sim, nullptr);
  AwaitOnline(kOnBoth);
  Await("every agent acked revision 1", [&] { return Acked(*b_, 1) == kOnBoth; });

  CommandResult action =
      Fleetctl(*b_, {"action", "create", "custom", "--arg", "name=probe", "-l", "sim=true"});
  ASSERT_EQ(action.exit_code, 0) << action.out << action.err;
  ASSERT_EQ(Fleetctl(*b_, {"apply", "-f", "-"}, Policy("notice")).exit_code, 0);
  kill(a_.process().pid(), SIGKILL);
  etcd_[0]->Kill();

  Await("every agent acked revision 2 and is online on replica B",
        [&] { return Acked(*b_, 2) == kOnBoth && Online(*b_) == kOnBoth; });
  Await("the action succeeded on every target", [&] {
    nlohmann::json status = ActionCounts(*b_);
    return !status.is_null() && status["counts"]["succeeded"] == kOnBoth &&
           status["state"] == "done";
  });
  ASSERT_EQ(Fleetctl(*b_, {"apply", "-f", "-"}, Policy("debug")).exit_code, 0);
  Await("every agent acked revision 3", [&] { return Acked(*b_, 3) == kOnBoth; });

  nlohmann::json result = testing::StopAgentSim(*sim, report);
  EXPECT_EQ(result["updates"]["full"], kOnBoth) << result.dump();
  EXPECT_EQ(result["nacks"], 0) << result.dump();
  EXPECT_EQ(result["actions"]["succeeded"], kOnBoth) << result.dump();
  EXPECT_EQ(result["actions"]["failed"], 0) << result.dump();
}

}  // namespace
}  // namespace fleet
