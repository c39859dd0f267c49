// End-to-end, the real fleetctl against a real fleetd: Kubernetes selectors on get agents, get
// policies and the bulk agent commands; labels on policies; the bulk agent commands (several ids
// or -l, --dry-run, label --overwrite, "unchanged"); delete with several names, -f and
// --ignore-not-found; a bad selector exiting 2.
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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
using testing::FleetdProcess;
using testing::TempDir;

std::string Policy(const std::string& name, const std::string& labels = "{}") {
  return absl::StrCat("kind: Policy\nmetadata:\n  name: ", name, "\n  labels: ", labels,
                      "\nspec: {level: info}\n");
}

class FleetctlBulkE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FLEETD_BIN, tmp_.Sub("data")));
  }

  CommandResult Fleetctl(const std::vector<std::string>& args,
                         const std::optional<std::string>& input = std::nullopt) {
    return testing::RunFleetctl(FLEETCTL_BIN, *fleetd_, tmp_.Sub("config"), args, "", input);
  }

  CommandResult Apply(const std::string& yaml) { return Fleetctl({"apply", "-f", "-"}, yaml); }

  nlohmann::json Json(std::vector<std::string> args) {
    args.insert(args.end(), {"-o", "json"});
    CommandResult result = Fleetctl(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    nlohmann::json json = nlohmann::json::parse(result.out, nullptr, false);
    // A list prints as {apiVersion, kind: List, items}: its items.
    if (json.is_object() && json.value("kind", "") == "List") return json["items"];
    return json;
  }

  // The ids of the agents `selector` picks, in id order.
  std::vector<std::string> Selected(const std::string& selector) {
    std::vector<std::string> ids;
    nlohmann::json agents = Json({"get", "agents", "-l", selector});
    for (const nlohmann::json& agent : agents) {
      ids.push_back(agent["metadata"]["id"].get<std::string>());
    }
    return ids;
  }

  // Enrolls `count` agents of policy `policy` (left offline); their ids in id order.
  std::vector<std::string> Enroll(const std::string& policy, int count) {
    nlohmann::json token = Json({"token", "create", "--policy", policy});
    std::vector<std::string> ids;
    for (int i = 0; i < count; ++i) {
      v1::EnrollResponse enrolled;
      grpc::Status status =
          testing::EnrollAgent(fleetd_->agent_address(), token["secret"].get<std::string>(),
                               absl::StrCat("host-", i), &enrolled);
      EXPECT_TRUE(status.ok()) << status.error_message();
      ids.push_back(enrolled.agent_id());
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  TempDir tmp_;
  std::unique_ptr<FleetdProcess> fleetd_;
};

// Labels on several agents in one command; again it says unchanged; a value that would change
// is refused without --overwrite (naming agent, key, old and new), changing no agent; a dry run
// lists the change and makes none.
TEST_F(FleetctlBulkE2eTest, AgentLabelSeveralAndOverwrite) {
  ASSERT_EQ(Apply(Policy("linux")).exit_code, 0);
  const std::vector<std::string> ids = Enroll("linux", 3);

  CommandResult labelled = Fleetctl({"agent", "label", ids[0], ids[1], "env=prod", "tier=web"});
  ASSERT_EQ(labelled.exit_code, 0) << labelled.err;
  EXPECT_EQ(labelled.out, absl::StrCat("agent/", ids[0], " labeled\nagent/", ids[1], " labeled\n"));
  CommandResult again = Fleetctl({"agent", "label", ids[0], "env=prod"});
  EXPECT_EQ(again.out, absl::StrCat("agent/", ids[0], " unchanged\n"));
  // -o json says the same, with the agent as it is.
  nlohmann::json results = Json({"agent", "label", ids[0], ids[1], "env=prod"});
  ASSERT_EQ(results.size(), 2u) << results.dump();
  EXPECT_EQ(results[0]["kind"], "Agent");
  EXPECT_EQ(results[0]["result"], "unchanged");
  EXPECT_EQ(results[0]["dryRun"], false);
  EXPECT_EQ(results[0]["agent"]["metadata"]["labels"]["env"], "prod");

  ASSERT_EQ(Fleetctl({"agent", "label", ids[2], "env=dev"}).exit_code, 0);
  CommandResult conflict = Fleetctl({"agent", "label", "-l", "env", "env=staging"});
  EXPECT_EQ(conflict.exit_code, 4) << conflict.err;
  EXPECT_TRUE(absl::StrContains(conflict.err, absl::StrCat("agent ", ids[0], " has label env=")))
      << conflict.err;
  EXPECT_TRUE(absl::StrContains(conflict.err, "\"prod\"")) << conflict.err;
  EXPECT_TRUE(absl::StrContains(conflict.err, "\"staging\"")) << conflict.err;
  EXPECT_TRUE(absl::StrContains(conflict.err, "--overwrite")) << conflict.err;
  EXPECT_TRUE(Selected("env=staging").empty());

  CommandResult dry =
      Fleetctl({"agent", "label", "-l", "env", "env=staging", "--overwrite", "--dry-run"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_TRUE(absl::StrContains(dry.out, absl::StrCat("agent/", ids[2], " labeled (dry run)")))
      << dry.out;
  EXPECT_TRUE(Selected("env=staging").empty());

  ASSERT_EQ(Fleetctl({"agent", "label", "-l", "env", "env=staging", "--overwrite"}).exit_code, 0);
  EXPECT_EQ(Selected("env=staging").size(), 3u);
  CommandResult removed = Fleetctl({"agent", "label", "-l", "tier=web", "tier-"});
  EXPECT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(Selected("tier").size(), 0u);
}

// get agents -l speaks Kubernetes' grammar, DNS-prefixed keys included; a bad selector is a
// usage error (exit 2) whose message names the requirement and column.
TEST_F(FleetctlBulkE2eTest, SelectorsAndBadSelectorExit2) {
  ASSERT_EQ(Apply(Policy("linux")).exit_code, 0);
  const std::vector<std::string> ids = Enroll("linux", 3);
  ASSERT_EQ(Fleetctl({"agent", "label", ids[0], "env=prod", "example.com/team=core"}).exit_code, 0);
  ASSERT_EQ(Fleetctl({"agent", "label", ids[1], "env=dev"}).exit_code, 0);

  EXPECT_EQ(Selected("env==prod"), std::vector<std::string>{ids[0]});
  EXPECT_EQ(Selected("env in (prod,dev)").size(), 2u);
  EXPECT_EQ(Selected("env notin (prod)").size(), 2u);  // dev, and the unlabelled one
  EXPECT_EQ(Selected("!env"), std::vector<std::string>{ids[2]});
  EXPECT_EQ(Selected("example.com/team=core,env"), std::vector<std::string>{ids[0]});

  CommandResult bad = Fleetctl({"get", "agents", "-l", "env=prod,tier in web"});
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  EXPECT_TRUE(
      absl::StrContains(bad.err, "error: selector requirement \"tier in web\" at column 18"))
      << bad.err;
  EXPECT_EQ(Fleetctl({"agent", "unenroll", "-l", "env=="}).exit_code, 0);  // empty value: none
  EXPECT_EQ(Fleetctl({"agent", "unenroll", "-l", "Bad_/x"}).exit_code, 2);
  EXPECT_EQ(Fleetctl({"get", "policies", "-l", "a in (b"}).exit_code, 2);
  EXPECT_EQ(Selected("env").size(), 2u);  // nothing was unenrolled
}

// reassign, unenroll and rotate-credentials take several ids or -l, in one request each;
// --dry-run lists and changes nothing; the single-id forms work as before.
TEST_F(FleetctlBulkE2eTest, ReassignUnenrollRotateInBulk) {
  ASSERT_EQ(Apply(Policy("linux")).exit_code, 0);
  ASSERT_EQ(Apply(Policy("windows")).exit_code, 0);
  const std::vector<std::string> ids = Enroll("linux", 4);
  ASSERT_EQ(Fleetctl({"agent", "label", ids[0], ids[1], ids[2], "os=win"}).exit_code, 0);

  CommandResult moved =
      Fleetctl({"agent", "reassign", "-l", "os=win", "--policy", "windows", "--dry-run"});
  ASSERT_EQ(moved.exit_code, 0) << moved.err;
  EXPECT_TRUE(absl::StrContains(
      moved.out, absl::StrCat("agent/", ids[1], " reassigned to policy/windows (dry run)")))
      << moved.out;
  EXPECT_EQ(Json({"get", "agents", "--policy", "windows"}).size(), 0u);
  ASSERT_EQ(Fleetctl({"agent", "reassign", ids[0], "--policy", "windows"}).exit_code, 0);
  CommandResult rest = Fleetctl({"agent", "reassign", "-l", "os=win", "--policy", "windows"});
  EXPECT_TRUE(absl::StrContains(rest.out, absl::StrCat("agent/", ids[0], " unchanged")))
      << rest.out;
  EXPECT_EQ(Json({"get", "agents", "--policy", "windows"}).size(), 3u);

  CommandResult rotate = Fleetctl({"agent", "rotate-credentials", "-l", "os=win", "--dry-run"});
  EXPECT_TRUE(absl::StrContains(
      rotate.out, absl::StrCat("agent/", ids[2], " credential rotation requested (dry run)")))
      << rotate.out;
  EXPECT_TRUE(Json({"get", "agents", ids[2]})["rotationRequestedAt"].is_null());

  CommandResult listed = Fleetctl({"agent", "unenroll", ids[0], ids[3], "--dry-run"});
  EXPECT_EQ(listed.out, absl::StrCat("agent/", ids[0], " unenrolled (dry run)\nagent/", ids[3],
                                     " unenrolled (dry run)\n"));
  EXPECT_EQ(Json({"get", "agents"}).size(), 4u);
  ASSERT_EQ(Fleetctl({"agent", "unenroll", ids[0], ids[3]}).exit_code, 0);
  ASSERT_EQ(Fleetctl({"agent", "unenroll", "-l", "os=win"}).exit_code, 0);
  EXPECT_EQ(Json({"get", "agents"}).size(), 0u);
  EXPECT_EQ(Fleetctl({"agent", "unenroll", ids[1]}).exit_code, 3);

  // Neither or both of ids and -l: usage errors.
  EXPECT_EQ(Fleetctl({"agent", "unenroll"}).exit_code, 2);
  EXPECT_EQ(Fleetctl({"agent", "unenroll", ids[1], "-l", "a=b"}).exit_code, 2);
  EXPECT_EQ(Fleetctl({"agent", "label", "-l", "a=b"}).exit_code, 2);
}

// Policies carry metadata.labels: get policies -l selects by them, a labels-only apply says
// configured without a new revision, and get -o yaml shows them for apply to take back.
TEST_F(FleetctlBulkE2eTest, PolicyLabels) {
  ASSERT_EQ(Apply(Policy("web", "{example.com/team: core, env: prod}")).exit_code, 0);
  ASSERT_EQ(Apply(Policy("db", "{env: dev}")).exit_code, 0);
  nlohmann::json core = Json({"get", "policies", "-l", "example.com/team=core"});
  ASSERT_EQ(core.size(), 1u);
  EXPECT_EQ(core[0]["metadata"]["name"], "web");
  EXPECT_EQ(core[0]["metadata"]["labels"]["env"], "prod");

  CommandResult relabel = Apply(Policy("db", "{env: prod}"));
  EXPECT_EQ(relabel.out, "policy/db configured (revision 1)\n") << relabel.err;
  EXPECT_EQ(Json({"get", "policies", "-l", "env=prod"}).size(), 2u);
  EXPECT_EQ(Apply(Policy("db", "{env: prod}")).out, "policy/db unchanged (revision 1)\n");

  CommandResult yaml = Fleetctl({"get", "policy", "db", "-o", "yaml"});
  EXPECT_TRUE(absl::StrContains(yaml.out, "env: prod")) << yaml.out;
  EXPECT_EQ(Apply(yaml.out).out, "policy/db unchanged (revision 1)\n");

  CommandResult bad = Apply(Policy("db", "{env: [1]}"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(bad.err, "metadata.labels.env must be a string")) << bad.err;

  // A change of the description alone: in place, no revision.
  std::string described = Policy("db", "{env: prod}");
  described.replace(described.find("metadata:"), strlen("metadata:"),
                    "metadata:\n  description: the databases");
  EXPECT_EQ(Apply(described).out, "policy/db configured (revision 1)\n");
}

// delete takes several names, -f FILE and --ignore-not-found; a missing one is reported and the
// others are still deleted.
TEST_F(FleetctlBulkE2eTest, DeleteSeveralFromFileAndIgnoreNotFound) {
  for (const char* name : {"a", "b", "c", "d", "e"}) ASSERT_EQ(Apply(Policy(name)).exit_code, 0);
  CommandResult two = Fleetctl({"delete", "policy", "a", "b"});
  ASSERT_EQ(two.exit_code, 0) << two.err;
  EXPECT_TRUE(absl::StrContains(two.out, "policy/a deleted")) << two.out;
  EXPECT_TRUE(absl::StrContains(two.out, "policy/b deleted")) << two.out;

  CommandResult missing = Fleetctl({"delete", "policy", "a", "c"});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_TRUE(absl::StrContains(missing.err, "error: policy \"a\" not found")) << missing.err;
  EXPECT_TRUE(absl::StrContains(missing.out, "policy/c deleted")) << missing.out;
  CommandResult ignored = Fleetctl({"delete", "policy", "a", "--ignore-not-found"});
  EXPECT_EQ(ignored.exit_code, 0) << ignored.err;
  EXPECT_EQ(ignored.err, "");

  const std::string file = tmp_.Sub("policies.yaml");
  std::ofstream(file) << Policy("d") << "---\n" << Policy("e") << "---\n" << Policy("a");
  CommandResult from_file = Fleetctl({"delete", "-f", file, "--ignore-not-found"});
  EXPECT_EQ(from_file.exit_code, 0) << from_file.err;
  EXPECT_TRUE(absl::StrContains(from_file.out, "policy/e deleted")) << from_file.out;
  EXPECT_EQ(Json({"get", "policies"}).size(), 0u);

  // -o json: one array of results, however many were named.
  for (const char* name : {"f", "g"}) ASSERT_EQ(Apply(Policy(name)).exit_code, 0);
  nlohmann::json deleted = Json({"delete", "policy", "f", "g"});
  ASSERT_TRUE(deleted.is_array()) << deleted.dump();
  ASSERT_EQ(deleted.size(), 2u);
  EXPECT_EQ(deleted[1]["name"], "g");
  EXPECT_EQ(deleted[1]["result"], "deleted");

  EXPECT_EQ(Fleetctl({"delete"}).exit_code, 2);
  EXPECT_EQ(Fleetctl({"delete", "policy"}).exit_code, 2);
  EXPECT_EQ(Fleetctl({"delete", "-f", file, "policy", "x"}).exit_code, 2);
}

// Each bulk command is one admin request, so one audit line, naming the agents or the
// selector, and the dry run as such.
TEST_F(FleetctlBulkE2eTest, BulkCommandsAreAuditedOnce) {
  ASSERT_OK(fleetd_->Stop());
  const std::string log_path = tmp_.Sub("fleetd.log");
  ASSERT_OK_AND_ASSIGN(
      fleetd_, FleetdProcess::Start(testing::FleetdOptions{.binary = FLEETD_BIN,
                                                           .data_dir = tmp_.Sub("data"),
                                                           .extra_flags = {"--log-format", "json"},
                                                           .log_path = log_path}));
  ASSERT_EQ(Apply(Policy("linux")).exit_code, 0);
  const std::vector<std::string> ids = Enroll("linux", 3);
  ASSERT_EQ(Fleetctl({"agent", "label", ids[0], ids[1], ids[2], "env=prod"}).exit_code, 0);
  ASSERT_EQ(Fleetctl({"agent", "unenroll", "-l", "env=prod", "--dry-run"}).exit_code, 0);
  ASSERT_OK(fleetd_->Stop());

  std::ifstream file(log_path);
  std::vector<nlohmann::json> audit;
  for (std::string line; std::getline(file, line);) {
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, false);
    if (parsed.is_object() && parsed["msg"] == "admin mutation" &&
        absl::EndsWith(parsed["rpc"].get<std::string>(), "Agents")) {
      audit.push_back(std::move(parsed));
    }
  }
  ASSERT_EQ(audit.size(), 2u);
  EXPECT_EQ(audit[0]["rpc"], "LabelAgents");
  EXPECT_EQ(audit[0]["target"], absl::StrCat("agents/", ids[0], ",", ids[1], ",", ids[2]));
  EXPECT_EQ(audit[0]["code"], "OK");
  EXPECT_EQ(audit[1]["rpc"], "UnenrollAgents");
  EXPECT_EQ(audit[1]["target"], "agents/selector=env=prod");
  EXPECT_EQ(audit[1]["dry_run"], true);
}

}  // namespace
}  // namespace fleet
