// End-to-end: the real fleetctl against a real fleetd, for get's and describe's output options:
// -o table|wide|name, --no-headers, --sort-by, ages, default orders, "No resources found",
// paging and --limit, get agents' NACKED column and --status, get policies' rollout counts and
// describe policy's revisions and tokens.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fleetctl_runner.h"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_agent.h"

namespace fleet {
namespace {

using testing::CommandResult;
using ::testing::ElementsAre;
using testing::FleetdProcess;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;
using testing::TempDir;

std::string PolicyYaml(const std::string& name, const std::string& level) {
  return absl::StrCat("kind: Policy\nmetadata:\n  name: ", name,
                      "\n  description: servers\nspec:\n  logs:\n    level: ", level, "\n");
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class FleetctlGetE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // fleetd logs a line per enrollment: to a file, as a pipe nobody reads would fill up and
    // stall it during the paging test's thousand enrollments.
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start({.binary = FLEETD_BIN,
                                                        .data_dir = tmp_.Sub("data"),
                                                        .log_path = tmp_.Sub("fleetd.log")}));
  }

  CommandResult Fleetctl(const std::vector<std::string>& args,
                         const std::optional<std::string>& input = std::nullopt) {
    return testing::RunFleetctl(FLEETCTL_BIN, *fleetd_, tmp_.Sub("config"), args, "", input);
  }

  // Runs fleetctl, expecting exit 0, and returns its stdout.
  std::string Out(const std::vector<std::string>& args) {
    CommandResult result = Fleetctl(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.out;
  }

  void Apply(const std::string& name, const std::string& level = "info") {
    CommandResult applied = Fleetctl({"apply", "-f", "-"}, PolicyYaml(name, level));
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  // The secret of a new enrollment token of `policy`.
  std::string Token(const std::string& policy) {
    CommandResult token = Fleetctl({"token", "create", "--policy", policy, "-o", "json"});
    EXPECT_EQ(token.exit_code, 0) << token.err;
    return nlohmann::json::parse(token.out, nullptr, false).value("secret", "");
  }

  v1::EnrollResponse Enroll(const std::string& token, const std::string& hostname) {
    v1::EnrollResponse enrolled;
    grpc::Status status =
        testing::EnrollAgent(fleetd_->agent_address(), token, hostname, &enrolled);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return enrolled;
  }

  // Waits (bounded) until `policy`'s rollout counts `acked` and `nacked`.
  void AwaitRollout(const std::string& policy, int acked, int nacked) {
    for (int attempt = 0; attempt < 600; ++attempt) {
      CommandResult status = Fleetctl({"rollout", "status", policy, "-o", "json"});
      const nlohmann::json json = nlohmann::json::parse(status.out, nullptr, false);
      const nlohmann::json counts =
          json.is_object() ? json.value("status", nlohmann::json()) : nullptr;
      if (counts.is_object() && counts.value("acked", -1) == acked &&
          counts.value("nacked", -1) == nacked) {
        return;
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
    FAIL() << "policy " << policy << " never counted " << acked << " acked, " << nacked
           << " nacked";
  }

  TempDir tmp_;
  std::unique_ptr<FleetdProcess> fleetd_;
};

// An empty list says "No resources found" on stderr and exits 0, with nothing on stdout, in
// every table style; json still prints a list for scripts.
TEST_F(FleetctlGetE2eTest, EmptyListSaysNoResourcesFound) {
  for (const char* style : {"table", "wide", "name"}) {
    CommandResult agents = Fleetctl({"get", "agents", "-o", style});
    EXPECT_EQ(agents.exit_code, 0) << agents.err;
    EXPECT_EQ(agents.out, "") << style;
    EXPECT_EQ(agents.err, "No resources found\n") << style;
  }
  CommandResult json = Fleetctl({"get", "policies", "-o", "json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(json.err, "");
  EXPECT_FALSE(nlohmann::json::parse(json.out, nullptr, false).is_discarded()) << json.out;
}

// Policies list by name with rollout columns and ages; -o name, -o wide, --no-headers and
// --sort-by change what is printed; an unknown column or format is a usage error (exit 2)
// naming the valid ones.
TEST_F(FleetctlGetE2eTest, PolicyTableOptions) {
  Apply("zeta");
  Apply("alpha");
  Apply("alpha", "debug");  // alpha at revision 2
  const std::vector<std::string> table = Lines(Out({"get", "policies"}));
  ASSERT_EQ(table.size(), 3u);
  EXPECT_THAT(table[0], StartsWith("NAME    REVISION   AGENTS   ACKED   NACKED   PENDING   "
                                   "UPDATED   AGE   DESCRIPTION"));
  EXPECT_THAT(table[1], MatchesRegex("alpha   2 +0 +0 +0 +0 +[0-9]+s +[0-9]+s +servers"));
  EXPECT_THAT(table[2], MatchesRegex("zeta    1 +0 +0 +0 +0 +[0-9]+s +[0-9]+s +servers"));

  EXPECT_EQ(Out({"get", "policies", "-o", "name"}), "policy/alpha\npolicy/zeta\n");
  EXPECT_EQ(Out({"get", "policies", "-o", "name", "--sort-by", "revision"}),
            "policy/zeta\npolicy/alpha\n");
  EXPECT_EQ(Out({"get", "policy", "zeta", "-o", "name"}), "policy/zeta\n");
  EXPECT_THAT(Lines(Out({"get", "policies", "--no-headers"})),
              ElementsAre(StartsWith("alpha   2"), StartsWith("zeta    1")));
  EXPECT_THAT(Out({"get", "policies", "-o", "wide"}),
              HasSubstr("   DESCRIPTION   LABELS   OFFLINE   SHA256 "));
  EXPECT_THAT(Out({"get", "policy", "alpha"}), HasSubstr("\nalpha   2 "));
  EXPECT_THAT(Lines(Out({"get", "policy", "alpha", "--no-headers"})),
              ElementsAre(StartsWith("alpha   2 ")));

  CommandResult bad_column = Fleetctl({"get", "policies", "--sort-by", "bogus"});
  EXPECT_EQ(bad_column.exit_code, 2);
  EXPECT_THAT(bad_column.err,
              HasSubstr("error: invalid --sort-by \"bogus\": not a column of policy tables; want "
                        "one of name, revision, agents, acked"));
  CommandResult bad_format = Fleetctl({"get", "policies", "-o", "tabel"});
  EXPECT_EQ(bad_format.exit_code, 2);
  EXPECT_THAT(bad_format.err,
              HasSubstr("error: invalid --output \"tabel\": want table, wide, name, json or yaml"));
  CommandResult bad_limit = Fleetctl({"get", "policies", "--limit", "0"});
  EXPECT_EQ(bad_limit.exit_code, 2);
  EXPECT_THAT(bad_limit.err, HasSubstr("error: invalid --limit \"0\": want 1 or more"));
}

// Agents list by hostname with NACKED and ages; --status filters by connection and by rollout
// state (acked, nacked, pending: fleetd decides); get policies counts them; describe policy
// shows the rollout, revisions and tokens.
TEST_F(FleetctlGetE2eTest, AgentRolloutStatesAndPolicyCounts) {
  Apply("web");
  const std::string token = Token("web");
  const v1::EnrollResponse acker = Enroll(token, "c-acks");
  const v1::EnrollResponse nacker = Enroll(token, "a-nacks");
  const v1::EnrollResponse idle = Enroll(token, "b-offline");
  testing::TestAgent acking(fleetd_->agent_address(), acker);
  testing::TestAgent nacking(fleetd_->agent_address(), nacker);
  ASSERT_TRUE(acking.Hello());
  ASSERT_TRUE(nacking.Hello());
  ASSERT_TRUE(acking.ApplyNext().has_value());
  ASSERT_TRUE(nacking.ApplyNext(/*refuse=*/true).has_value());
  AwaitRollout("web", 1, 1);

  const std::vector<std::string> agents = Lines(Out({"get", "agents"}));
  ASSERT_EQ(agents.size(), 4u) << Out({"get", "agents"});
  EXPECT_THAT(agents[0], HasSubstr("   REVISION   NACKED   STATUS    HEALTH"));
  EXPECT_THAT(agents[0], HasSubstr("LAST-SEEN   AGE"));
  EXPECT_THAT(agents[1], MatchesRegex(nacker.agent_id() + " +a-nacks +web +- +1 +online .*"));
  EXPECT_THAT(agents[2], MatchesRegex(idle.agent_id() + " +b-offline +web +- +- +offline .*"));
  EXPECT_THAT(agents[3], MatchesRegex(acker.agent_id() + " +c-acks +web +1 +- +online .*"));

  EXPECT_EQ(Out({"get", "agents", "--status", "nacked", "-o", "name"}),
            "agent/" + nacker.agent_id() + "\n");
  EXPECT_EQ(Out({"get", "agents", "--status", "pending", "-o", "name"}),
            "agent/" + idle.agent_id() + "\n");
  EXPECT_EQ(Out({"get", "agents", "--status", "acked", "-o", "name"}),
            "agent/" + acker.agent_id() + "\n");
  EXPECT_EQ(Out({"get", "agents", "--status", "offline", "-o", "name"}),
            "agent/" + idle.agent_id() + "\n");
  EXPECT_THAT(Lines(Out({"get", "agents", "--status", "online", "-o", "name"})),
              ElementsAre("agent/" + nacker.agent_id(), "agent/" + acker.agent_id()));
  CommandResult bad_status = Fleetctl({"get", "agents", "--status", "broken"});
  EXPECT_EQ(bad_status.exit_code, 2);
  EXPECT_THAT(bad_status.err, HasSubstr("error: invalid --status \"broken\": want online, "
                                        "offline, acked, nacked or pending"));

  EXPECT_THAT(Out({"get", "policies"}), MatchesRegex("(.|\n)*\nweb +1 +3 +1 +1 +1 +.*"));

  const std::string described = Out({"describe", "policy", "web"});
  EXPECT_THAT(described, HasSubstr("Agents:          3 assigned, 1 offline\n"));
  EXPECT_THAT(described, HasSubstr("Rollout:         revision 1: 1 acked, 1 nacked, 0 pending, "
                                   "1 pending offline\n"));
  EXPECT_THAT(described, HasSubstr("Revisions (newest 1):\n  REVISION   SHA256"));
  EXPECT_THAT(described, HasSubstr("Enrollment Tokens:\n  ID "));
  EXPECT_THAT(described, HasSubstr("   3/unlimited   never     active   "));
  acking.End();
  nacking.End();
}

// 5,000 agents, ten of fleetd's 500-agent pages, are read page by page to the end; --limit stops
// after N, across a page boundary too.
TEST_F(FleetctlGetE2eTest, PagesThroughBigListsAndLimits) {
  Apply("web");
  const std::string token = Token("web");
  constexpr int kAgents = 5'000;
  for (int i = 0; i < kAgents; ++i) Enroll(token, absl::StrCat("host-", 10'000 + i));
  const std::vector<std::string> all = Lines(Out({"get", "agents", "--no-headers"}));
  ASSERT_EQ(all.size(), static_cast<size_t>(kAgents));
  EXPECT_THAT(all.front(), HasSubstr(" host-10000 "));
  EXPECT_THAT(all.back(), HasSubstr(absl::StrCat(" host-", 10'000 + kAgents - 1, " ")));
  EXPECT_EQ(Lines(Out({"get", "agents", "-o", "name", "--limit", "600"})).size(), 600u);
  EXPECT_EQ(Lines(Out({"get", "agents", "-o", "name", "--limit", "3"})).size(), 3u);
  EXPECT_THAT(Out({"get", "policies", "--no-headers"}),
              MatchesRegex("web +1 +5,000 +0 +0 +5,000 .*\n"));
}

}  // namespace
}  // namespace fleet
