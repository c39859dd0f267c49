// End-to-end: a real fleetd driven by the real fleetctl, checking stdout JSON, stderr and exit
// codes: login, policies with history, diff and rollback, roles, bad input, restarts and SIGKILL.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
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
using testing::TempDir;

constexpr char kPolicyYaml[] = R"(kind: Policy
metadata:
  name: linux-servers
  description: every Linux server
spec:
  logs:
    level: LEVEL
    paths: [/var/log/syslog]
)";

std::string PolicyYaml(const std::string& level) {
  std::string yaml = kPolicyYaml;
  yaml.replace(yaml.find("LEVEL"), 5, level);
  return yaml;
}

class AdminE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(StartFleetd()); }

  void StartFleetd() {
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FLEETD_BIN, data_dir_));
    admin_token_ = fleetd_->bootstrap_token_file();
  }

  // Runs fleetctl against our fleetd with `token_file` (the bootstrap admin token by default),
  // its own config home, and `input` on stdin.
  CommandResult Fleetctl(const std::vector<std::string>& args, const std::string& token_file = "",
                         const std::optional<std::string>& input = std::nullopt) {
    return testing::RunFleetctl(FLEETCTL_BIN, *fleetd_, tmp_.Sub("config"), args, token_file,
                                input);
  }

  nlohmann::json Json(std::vector<std::string> args, const std::string& token_file = "") {
    args.push_back("-o");
    args.push_back("json");
    CommandResult result = Fleetctl(args, token_file);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    nlohmann::json parsed = nlohmann::json::parse(result.out, nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << result.out;
    return parsed;
  }

  CommandResult Apply(const std::string& yaml, const std::string& token_file = "") {
    return Fleetctl({"apply", "-f", "-"}, token_file, yaml);
  }

  // Creates an admin token with `role` and writes it to a file; returns the path.
  std::string TokenFile(const std::string& role) {
    nlohmann::json created = Json({"admin-token", "create", "--role", role});
    std::string path = tmp_.Sub(role + ".token");
    std::ofstream(path) << created["secret"].get<std::string>() << "\n";
    return path;
  }

  std::vector<int64_t> HistoryRevisions() {
    std::vector<int64_t> revisions;
    const nlohmann::json history = Json({"policy", "history", "linux-servers"});
    for (const nlohmann::json& entry : history["items"]) {
      revisions.push_back(entry.at("status").at("revision").get<int64_t>());
    }
    return revisions;
  }

  TempDir tmp_;
  const std::string data_dir_ = tmp_.Sub("data");
  std::unique_ptr<FleetdProcess> fleetd_;
  std::string admin_token_;
};

// Login with the bootstrap token checks it, saves a 0600 context, and later commands use it.
TEST_F(AdminE2eTest, LoginSavesAContext) {
  std::vector<std::string> env = {"XDG_CONFIG_HOME=" + tmp_.Sub("config")};
  ASSERT_OK_AND_ASSIGN(CommandResult login,
                       testing::RunCommand({FLEETCTL_BIN, "login", "--address",
                                            fleetd_->admin_address(), "--token-file", admin_token_},
                                           env));
  ASSERT_EQ(login.exit_code, 0) << login.err;
  ASSERT_OK_AND_ASSIGN(CommandResult version,
                       testing::RunCommand({FLEETCTL_BIN, "version", "-o", "json"}, env));
  ASSERT_EQ(version.exit_code, 0) << version.err;
  EXPECT_TRUE(absl::StrContains(version.out, fleetd_->admin_address())) << version.out;

  std::ofstream(tmp_.Sub("wrong.token")) << "fadm_000000000000_" << std::string(64, '0');
  ASSERT_OK_AND_ASSIGN(
      CommandResult wrong,
      testing::RunCommand({FLEETCTL_BIN, "login", "--address", fleetd_->admin_address(),
                           "--token-file", tmp_.Sub("wrong.token"), "--context", "bad"},
                          env));
  EXPECT_EQ(wrong.exit_code, 6) << wrong.err;
}

// Apply, change, re-apply unchanged, history, diff and rollback, all through fleetctl.
TEST_F(AdminE2eTest, PolicyLifecycle) {
  CommandResult created = Apply(PolicyYaml("info"));
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(created.out, "policy/linux-servers created (revision 1)\n");
  EXPECT_EQ(Apply(PolicyYaml("debug")).out, "policy/linux-servers configured (revision 2)\n");
  EXPECT_EQ(Apply(PolicyYaml("debug")).out, "policy/linux-servers unchanged (revision 2)\n");

  nlohmann::json policy = Json({"get", "policy", "linux-servers"});
  EXPECT_EQ(policy["kind"], "Policy");
  EXPECT_EQ(policy["metadata"]["name"], "linux-servers");
  EXPECT_EQ(policy["spec"]["logs"]["level"], "debug");
  EXPECT_EQ(policy["status"]["revision"], 2);
  EXPECT_EQ(policy["status"]["sha256"].get<std::string>().size(), 64u);

  EXPECT_EQ(HistoryRevisions(), (std::vector<int64_t>{2, 1}));
  nlohmann::json patch = Json({"policy", "diff", "linux-servers", "--from", "1", "--to", "2"});
  ASSERT_TRUE(patch.is_array());
  ASSERT_EQ(patch.size(), 1u);
  EXPECT_EQ(patch[0]["path"], "/logs/level");

  CommandResult rollback = Fleetctl({"policy", "rollback", "linux-servers", "--to", "1"});
  ASSERT_EQ(rollback.exit_code, 0) << rollback.err;
  nlohmann::json rolled = Json({"get", "policy", "linux-servers"});
  EXPECT_EQ(rolled["status"]["revision"], 3);
  EXPECT_EQ(rolled["spec"]["logs"]["level"], "info");
  nlohmann::json first = Json({"get", "policy", "linux-servers", "--revision", "1"});
  EXPECT_EQ(first["status"]["sha256"], rolled["status"]["sha256"]);

  // The YAML of `get policy` applies back unchanged.
  CommandResult yaml = Fleetctl({"get", "policy", "linux-servers", "-o", "yaml"});
  ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
  EXPECT_EQ(Apply(yaml.out).out, "policy/linux-servers unchanged (revision 3)\n");
}

// A viewer may read but not write (exit 6, nothing changes); an operator may apply but not
// manage admin tokens; a revoked token stops working at once.
TEST_F(AdminE2eTest, RolesAreEnforced) {
  ASSERT_EQ(Apply(PolicyYaml("info")).exit_code, 0);
  std::string viewer = TokenFile("viewer");
  std::string operator_token = TokenFile("operator");

  EXPECT_EQ(Json({"get", "policies"}, viewer)["items"].size(), 1u);
  CommandResult denied = Apply(PolicyYaml("debug"), viewer);
  EXPECT_EQ(denied.exit_code, 6);
  EXPECT_TRUE(absl::StartsWith(denied.err, "error: ")) << denied.err;
  EXPECT_TRUE(absl::StrContains(denied.err, "viewer")) << denied.err;
  EXPECT_EQ(Fleetctl({"policy", "rollback", "linux-servers", "--to", "1"}, viewer).exit_code, 6);
  EXPECT_EQ(Fleetctl({"token", "create", "--policy", "linux-servers"}, viewer).exit_code, 6);
  EXPECT_EQ(HistoryRevisions(), (std::vector<int64_t>{1}));

  EXPECT_EQ(Apply(PolicyYaml("debug"), operator_token).exit_code, 0);
  EXPECT_EQ(Fleetctl({"get", "admin-tokens"}, operator_token).exit_code, 6);

  std::string viewer_id;
  const nlohmann::json tokens = Json({"get", "admin-tokens"});
  for (const nlohmann::json& token : tokens["items"]) {
    if (token["spec"]["role"] == "viewer") viewer_id = token["metadata"]["id"];
  }
  ASSERT_EQ(Fleetctl({"admin-token", "revoke", viewer_id}).exit_code, 0);
  CommandResult revoked = Fleetctl({"get", "policies"}, viewer);
  EXPECT_EQ(revoked.exit_code, 6);
  EXPECT_TRUE(absl::StrContains(revoked.err, "unknown or revoked")) << revoked.err;
}

// Broken input gets one clear error line and writes nothing.
TEST_F(AdminE2eTest, BadInputIsRefusedAndWritesNothing) {
  ASSERT_EQ(Apply(PolicyYaml("info")).exit_code, 0);
  struct Case {
    std::string document;
    int exit_code;
    std::string mentions;
  };
  const Case cases[] = {
      {"kind: Policy\nmetadata:\n  name: x\n spec: {}\n", 1, "stdin:4: malformed YAML"},
      {"kind: Polcy\nmetadata: {name: x}\nspec: {}\n", 1, "unknown kind"},
      {"kind: Policy\nmetdata: {name: x}\nspec: {}\n", 1, "metdata"},
      {"kind: Policy\nmetadata: {name: x}\nspec: [1, 2]\n", 1, "spec"},
      {"kind: Policy\nmetadata: {name: Bad_Name}\nspec: {}\n", 1, "Bad_Name"},
      {"{\"kind\": \"Policy\", \"metadata\": {\"name\": \"x\"}, \"spec\": {\"a\": }}", 1,
       "stdin:1: malformed JSON"},
      // The second document is bad: the first must not be applied either.
      {PolicyYaml("warn") + "---\nkind: Policy\nmetadata: {name: y}\nspec: 3\n", 1, "spec"},
      // Only the server knows these are bad: it is asked about every document first.
      {PolicyYaml("warn") + "---\nkind: Policy\nmetadata: {name: Bad_Name}\nspec: {}\n", 1,
       "Bad_Name"},
      {PolicyYaml("warn") + "---\nkind: EnrollmentToken\nspec: {policy: nope}\n", 3, "nope"},
  };
  for (const Case& c : cases) {
    CommandResult result = Apply(c.document);
    EXPECT_EQ(result.exit_code, c.exit_code) << c.document << "\n" << result.err;
    EXPECT_TRUE(absl::StartsWith(result.err, "error: ")) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_TRUE(absl::StrContains(result.err, c.mentions)) << c.mentions << ": " << result.err;
  }
  CommandResult ttl = Fleetctl({"token", "create", "--policy", "linux-servers", "--ttl", "soon"});
  EXPECT_EQ(ttl.exit_code, 2) << ttl.err;
  CommandResult unknown = Fleetctl({"token", "create", "--policy", "nope"});
  EXPECT_EQ(unknown.exit_code, 3) << unknown.err;
  EXPECT_EQ(unknown.err, "error: policy \"nope\" not found\n");
  EXPECT_EQ(Fleetctl({"get", "policy", "nope"}).exit_code, 3);

  EXPECT_EQ(Json({"get", "policies"})["items"].size(), 1u);
  EXPECT_EQ(HistoryRevisions(), (std::vector<int64_t>{1}));
  EXPECT_EQ(Json({"get", "tokens"})["items"].size(), 0u);
}

// History, tokens and the admin token survive a restart; no second bootstrap token is minted.
TEST_F(AdminE2eTest, StateSurvivesRestart) {
  ASSERT_EQ(Apply(PolicyYaml("info")).exit_code, 0);
  ASSERT_EQ(Apply(PolicyYaml("debug")).exit_code, 0);
  ASSERT_EQ(Fleetctl({"token", "create", "--policy", "linux-servers"}).exit_code, 0);
  std::ifstream bootstrap(admin_token_);
  std::string token_before((std::istreambuf_iterator<char>(bootstrap)), {});
  ASSERT_OK(fleetd_->Stop());
  ASSERT_NO_FATAL_FAILURE(StartFleetd());
  std::ifstream again(admin_token_);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(again)), {}), token_before);
  EXPECT_EQ(HistoryRevisions(), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(Json({"get", "tokens"})["items"].size(), 1u);
  EXPECT_EQ(Apply(PolicyYaml("error")).out, "policy/linux-servers configured (revision 3)\n");
}

// fleetd killed with SIGKILL while applies run loses none that fleetctl reported successful.
TEST_F(AdminE2eTest, SigkillLosesNoReportedApply) {
  std::set<int64_t> reported;
  for (int i = 0; i < 12; ++i) {
    CommandResult result = Apply(PolicyYaml(absl::StrCat("level-", i)));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    // "policy/linux-servers created (revision N)" or "... configured (revision N)"
    const std::string& out = result.out;
    size_t at = out.rfind("(revision ");
    ASSERT_NE(at, std::string::npos) << result.out;
    int64_t revision = 0;
    ASSERT_TRUE(absl::SimpleAtoi(out.substr(at + 10, out.size() - at - 12), &revision)) << out;
    reported.insert(revision);
    if (i == 8) {
      // Kill it with an apply in flight: started, not waited for.
      auto inflight = testing::Subprocess::Start(
          {FLEETCTL_BIN, "--address", fleetd_->admin_address(), "--token-file", admin_token_,
           "apply", "-f", "-"},
          {"XDG_CONFIG_HOME=" + tmp_.Sub("config")}, PolicyYaml("inflight"));
      ASSERT_OK(inflight);
      fleetd_->process().Signal(SIGKILL);
      fleetd_->process().Wait(absl::Seconds(10));
      (*inflight)->Wait(absl::Seconds(30));
      ASSERT_NO_FATAL_FAILURE(StartFleetd());
    }
  }
  std::vector<int64_t> history = HistoryRevisions();
  std::set<int64_t> kept(history.begin(), history.end());
  for (int64_t revision : reported) EXPECT_TRUE(kept.contains(revision)) << revision;
  // Revisions stay contiguous: nothing half-written left a gap.
  for (size_t i = 1; i < history.size(); ++i) EXPECT_EQ(history[i - 1], history[i] + 1);
}

// An agent enrolled over the agent API shows up in fleetctl; labels, reassignment, rollout
// status and unenrollment work on it, and a used-up token refuses the next agent.
TEST_F(AdminE2eTest, EnrolledAgentsAreManagedThroughFleetctl) {
  ASSERT_EQ(Apply(PolicyYaml("info")).exit_code, 0);
  ASSERT_EQ(Apply("kind: Policy\nmetadata: {name: windows}\nspec: {}\n").exit_code, 0);
  nlohmann::json token = Json({"token", "create", "--policy", "linux-servers", "--max-uses", "1"});
  auto enroll = [&](const std::string& hostname, v1::EnrollResponse* response) {
    return testing::EnrollAgent(fleetd_->agent_address(), token["secret"].get<std::string>(),
                                hostname, response);
  };
  v1::EnrollResponse enrolled;
  grpc::Status status = enroll("web-1", &enrolled);
  ASSERT_TRUE(status.ok()) << status.error_message();
  v1::EnrollResponse refused;
  EXPECT_EQ(enroll("web-2", &refused).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  const std::string id = enrolled.agent_id();
  nlohmann::json agents = Json({"get", "agents", "--policy", "linux-servers"})["items"];
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_EQ(agents[0]["metadata"]["id"], id);
  EXPECT_EQ(agents[0]["status"]["hostname"], "web-1");
  EXPECT_EQ(Json({"get", "tokens"})["items"][0]["status"]["uses"], 1);

  ASSERT_EQ(Fleetctl({"agent", "label", id, "env=prod", "tier=web"}).exit_code, 0);
  EXPECT_EQ(Json({"get", "agents", "--selector", "env=prod,tier=web"})["items"].size(), 1u);
  EXPECT_EQ(Json({"get", "agents", "--selector", "env!=prod"})["items"].size(), 0u);
  nlohmann::json rollout = Json({"rollout", "status", "linux-servers"});
  EXPECT_EQ(rollout["status"]["agents"], 1);
  EXPECT_EQ(rollout["status"]["offline"], 1);

  EXPECT_EQ(Fleetctl({"agent", "reassign", id, "--policy", "nope"}).exit_code, 3);
  ASSERT_EQ(Fleetctl({"agent", "reassign", id, "--policy", "windows"}).exit_code, 0);
  EXPECT_EQ(Json({"get", "agents", "--policy", "windows"})["items"].size(), 1u);
  CommandResult busy = Fleetctl({"delete", "policy", "windows"});
  EXPECT_EQ(busy.exit_code, 4) << busy.err;
  ASSERT_EQ(Fleetctl({"agent", "unenroll", id}).exit_code, 0);
  EXPECT_EQ(Json({"get", "agents"})["items"].size(), 0u);
  EXPECT_EQ(Fleetctl({"agent", "unenroll", id}).exit_code, 3);
  EXPECT_EQ(Fleetctl({"delete", "policy", "windows"}).exit_code, 0);
}

}  // namespace
}  // namespace fleet
