// End-to-end: the JSON and YAML shapes the real fleetctl prints for every kind, read from a real
// fleetd (docs/output.md), and `get policies -o yaml` applied back with `apply -f`.
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
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_agent.h"

namespace fleet {
namespace {

using testing::CommandResult;
using testing::FleetdProcess;
using testing::TempDir;

std::string PolicyYaml(const std::string& name, const std::string& level) {
  return absl::StrCat("apiVersion: fleet/v1\nkind: Policy\nmetadata:\n  name: ", name,
                      "\nspec:\n  logs:\n    level: ", level, "\n");
}

class OutputShapesE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FLEETD_BIN, tmp_.Sub("data")));
  }

  CommandResult Fleetctl(const std::vector<std::string>& args, const std::string& token_file = "",
                         const std::optional<std::string>& input = std::nullopt) {
    return testing::RunFleetctl(FLEETCTL_BIN, *fleetd_, tmp_.Sub("config"), args, token_file,
                                input);
  }

  nlohmann::json Json(std::vector<std::string> args) {
    args.insert(args.end(), {"-o", "json"});
    CommandResult result = Fleetctl(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    nlohmann::json parsed = nlohmann::json::parse(result.out, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << result.out;
    return parsed;
  }

  // An operator token described "ci", in a file.
  std::string CiToken() {
    nlohmann::json created =
        Json({"admin-token", "create", "--role", "operator", "--description", "ci"});
    const std::string path = tmp_.Sub("ci.token");
    std::ofstream(path) << created["secret"].get<std::string>() << "\n";
    return path;
  }

  TempDir tmp_;
  std::unique_ptr<FleetdProcess> fleetd_;
};

// Every resource carries apiVersion fleet/v1, its kind, metadata, and spec/status where the kind
// has them; lists are kubectl's List.
void ExpectResource(const nlohmann::json& resource, const std::string& kind) {
  EXPECT_EQ(resource["apiVersion"], "fleet/v1") << resource.dump();
  EXPECT_EQ(resource["kind"], kind) << resource.dump();
  EXPECT_TRUE(resource["metadata"].is_object()) << resource.dump();
  EXPECT_TRUE(resource["spec"].is_object()) << resource.dump();
}

void ExpectList(const nlohmann::json& list, size_t size) {
  EXPECT_EQ(list["apiVersion"], "fleet/v1") << list.dump();
  EXPECT_EQ(list["kind"], "List") << list.dump();
  ASSERT_TRUE(list["items"].is_array()) << list.dump();
  EXPECT_EQ(list["items"].size(), size) << list.dump();
}

// Policies, their history, tokens, agents, admin tokens and rollout status all print in the one
// shape, with the creator as an object and null (never 0 or "") for what fleetd has no value
// for.
TEST_F(OutputShapesE2eTest, EveryKindHasTheOneShape) {
  const std::string ci = CiToken();
  ASSERT_EQ(Fleetctl({"apply", "-f", "-"}, ci, PolicyYaml("linux-servers", "info")).exit_code, 0);
  ASSERT_EQ(Fleetctl({"apply", "-f", "-"}, ci, PolicyYaml("linux-servers", "debug")).exit_code, 0);

  nlohmann::json admin_tokens = Json({"get", "admin-tokens"});
  ExpectList(admin_tokens, 2);
  std::string bootstrap_id, ci_id;
  for (const nlohmann::json& token : admin_tokens["items"]) {
    ExpectResource(token, "AdminToken");
    EXPECT_FALSE(token.contains("status")) << token.dump();
    EXPECT_TRUE(token["metadata"]["createdAt"].is_string()) << token.dump();
    (token["spec"]["role"] == "admin" ? bootstrap_id : ci_id) = token["metadata"]["id"];
  }
  ASSERT_FALSE(ci_id.empty());
  for (const nlohmann::json& token : admin_tokens["items"]) {
    if (token["metadata"]["id"] == bootstrap_id) {
      EXPECT_TRUE(token["metadata"]["creator"].is_null()) << token.dump();  // fleetd made it
    } else {
      EXPECT_EQ(token["metadata"]["creator"]["id"], bootstrap_id) << token.dump();
      EXPECT_EQ(token["metadata"]["creator"]["description"], "bootstrap") << token.dump();
      EXPECT_EQ(token["metadata"]["description"], "ci");
    }
  }

  nlohmann::json policy = Json({"get", "policy", "linux-servers"});
  ExpectResource(policy, "Policy");
  EXPECT_EQ(policy["metadata"]["name"], "linux-servers");
  EXPECT_TRUE(policy["metadata"]["description"].is_null()) << policy.dump();
  EXPECT_EQ(policy["metadata"]["labels"], nlohmann::json::object());
  EXPECT_TRUE(policy["metadata"]["createdAt"].is_string()) << policy.dump();
  EXPECT_TRUE(policy["metadata"]["updatedAt"].is_string()) << policy.dump();
  EXPECT_EQ(policy["metadata"]["creator"], nlohmann::json({{"id", ci_id}, {"description", "ci"}}));
  EXPECT_EQ(policy["spec"]["logs"]["level"], "debug");
  EXPECT_EQ(policy["status"]["revision"], 2);
  EXPECT_TRUE(policy["status"]["rolledBackFrom"].is_null()) << policy.dump();
  EXPECT_TRUE(policy["status"]["storeRevision"].is_number_integer()) << policy.dump();

  nlohmann::json policies = Json({"get", "policies"});
  ExpectList(policies, 1);
  EXPECT_EQ(policies["items"][0], policy);  // with its spec, so that it applies back

  nlohmann::json history = Json({"policy", "history", "linux-servers"});
  ExpectList(history, 2);
  EXPECT_EQ(history["items"][1]["kind"], "Policy");
  EXPECT_EQ(history["items"][1]["status"]["revision"], 1);
  EXPECT_EQ(history["items"][1]["metadata"]["createdAt"], policy["metadata"]["createdAt"]);
  EXPECT_FALSE(history["items"][1].contains("spec")) << history.dump();  // history has none

  nlohmann::json created = Json({"token", "create", "--policy", "linux-servers"});
  ExpectResource(created["token"], "EnrollmentToken");
  nlohmann::json tokens = Json({"get", "tokens"});
  ExpectList(tokens, 1);
  const nlohmann::json& token = tokens["items"][0];
  ExpectResource(token, "EnrollmentToken");
  EXPECT_EQ(token["metadata"]["id"], created["token"]["metadata"]["id"]);
  EXPECT_EQ(token["metadata"]["creator"]["id"], bootstrap_id);
  EXPECT_EQ(
      token["spec"],
      nlohmann::json({{"policy", "linux-servers"}, {"expiresAt", nullptr}, {"maxUses", nullptr}}));
  EXPECT_EQ(token["status"], nlohmann::json({{"uses", 0}, {"revoked", false}}));

  v1::EnrollResponse enrolled;
  ASSERT_TRUE(testing::EnrollAgent(fleetd_->agent_address(), created["secret"].get<std::string>(),
                                   "web-1", &enrolled)
                  .ok());
  nlohmann::json agents = Json({"get", "agents"});
  ExpectList(agents, 1);
  const nlohmann::json& agent = agents["items"][0];
  ExpectResource(agent, "Agent");
  EXPECT_EQ(agent["metadata"]["id"], enrolled.agent_id());
  EXPECT_TRUE(agent["metadata"]["createdAt"].is_string()) << agent.dump();
  EXPECT_EQ(agent["spec"], nlohmann::json({{"policy", "linux-servers"}}));
  EXPECT_EQ(agent["status"]["hostname"], "web-1");
  EXPECT_TRUE(agent["status"]["appliedRevision"].is_null()) << agent.dump();  // never acked
  EXPECT_TRUE(agent["status"]["nackedRevision"].is_null()) << agent.dump();
  EXPECT_EQ(Json({"get", "agent", enrolled.agent_id()}), agent);

  nlohmann::json rollout = Json({"rollout", "status", "linux-servers"});
  ExpectResource(rollout, "RolloutStatus");
  EXPECT_EQ(rollout["metadata"]["name"], "linux-servers");
  EXPECT_EQ(rollout["spec"]["revision"], 2);
  EXPECT_EQ(rollout["status"]["agents"], 1);
  EXPECT_EQ(rollout["status"]["acked"], 0);  // a count: zero, not null
  EXPECT_EQ(rollout["status"]["pendingOffline"], 1);

  // An empty list is a List too.
  ExpectList(Json({"get", "agents", "--policy", "nope"}), 0);
}

// `get policies -o yaml > f.yaml && apply -f f.yaml` changes nothing; an edit of it applies; an
// old export is refused as stale; another apiVersion is refused by name.
TEST_F(OutputShapesE2eTest, GetPoliciesYamlAppliesBack) {
  ASSERT_EQ(Fleetctl({"apply", "-f", "-"}, "",
                     PolicyYaml("web", "info") + "---\n" + PolicyYaml("db", "warn"))
                .exit_code,
            0);
  CommandResult exported = Fleetctl({"get", "policies", "-o", "yaml"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(absl::StartsWith(exported.out, "apiVersion: fleet/v1\nkind: List\nitems:\n"))
      << exported.out;
  const std::string file = tmp_.Sub("all.yaml");
  std::ofstream(file) << exported.out;

  CommandResult again = Fleetctl({"apply", "-f", file});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.out, "policy/db unchanged (revision 1)\npolicy/web unchanged (revision 1)\n");

  std::string edited = exported.out;
  edited.replace(edited.find("level: info"), 11, "level: error");
  CommandResult changed = Fleetctl({"apply", "-f", "-"}, "", edited);
  EXPECT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_EQ(changed.out, "policy/db unchanged (revision 1)\npolicy/web configured (revision 2)\n");
  EXPECT_EQ(Json({"get", "policy", "web"})["spec"]["logs"]["level"], "error");

  CommandResult stale = Fleetctl({"apply", "-f", file});
  EXPECT_EQ(stale.exit_code, 4) << stale.err;

  CommandResult json = Fleetctl({"get", "policies", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  CommandResult from_json = Fleetctl({"apply", "-f", "-"}, "", json.out);
  EXPECT_EQ(from_json.exit_code, 0) << from_json.err;
  EXPECT_EQ(from_json.out, "policy/db unchanged (revision 1)\npolicy/web unchanged (revision 2)\n");

  std::string other = PolicyYaml("web", "info");
  other.replace(0, std::string("apiVersion: fleet/v1").size(), "apiVersion: fleet/v2");
  CommandResult refused = Fleetctl({"apply", "-f", "-"}, "", other);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(refused.err,
                                "apiVersion \"fleet/v2\" is not supported "
                                "(fleetctl reads fleet/v1)"))
      << refused.err;
}

}  // namespace
}  // namespace fleet
