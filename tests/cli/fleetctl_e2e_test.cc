// End-to-end: the real fleetctl against a real fleetd, for what needs the server: the rollout
// gate (no agent assigned, a fleetd restart during --watch), lost updates (status.revision and
// --force), fleetctl diff, and an agent's hostname holding terminal escapes.
#include <signal.h>

#include <fstream>
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

std::string PolicyYaml(const std::string& level) {
  return absl::StrCat("kind: Policy\nmetadata:\n  name: linux-servers\n  description: servers\n",
                      "spec:\n  logs:\n    level: ", level, "\n    paths: [/var/log/syslog]\n");
}

class FleetctlE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FLEETD_BIN, tmp_.Sub("data")));
  }

  CommandResult Fleetctl(const std::vector<std::string>& args,
                         const std::optional<std::string>& input = std::nullopt) {
    return testing::RunFleetctl(FLEETCTL_BIN, *fleetd_, tmp_.Sub("config"), args, "", input);
  }

  CommandResult Apply(const std::string& yaml, std::vector<std::string> flags = {}) {
    flags.insert(flags.begin(), {"apply", "-f", "-"});
    return Fleetctl(flags, yaml);
  }

  nlohmann::json Json(std::vector<std::string> args) {
    args.insert(args.end(), {"-o", "json"});
    CommandResult result = Fleetctl(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return nlohmann::json::parse(result.out, nullptr, false);
  }

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = tmp_.Sub(name);
    std::ofstream(path) << text;
    return path;
  }

  // Enrolls an agent of linux-servers (left offline) under `hostname`.
  v1::EnrollResponse Enroll(const std::string& hostname, grpc::Status* status = nullptr) {
    nlohmann::json token = Json({"token", "create", "--policy", "linux-servers"});
    v1::EnrollResponse enrolled;
    grpc::Status enrolled_status = testing::EnrollAgent(
        fleetd_->agent_address(), token["secret"].get<std::string>(), hostname, &enrolled);
    if (status != nullptr) {
      *status = enrolled_status;
    } else {
      EXPECT_TRUE(enrolled_status.ok()) << enrolled_status.error_message();
    }
    return enrolled;
  }

  TempDir tmp_;
  std::unique_ptr<FleetdProcess> fleetd_;
};

// With no agent assigned the watch says so on stderr and passes at once: there is nothing to
// wait for, and the operator is told rather than shown "complete".
TEST_F(FleetctlE2eTest, RolloutWatchWithNoAgentAssignedSaysSo) {
  ASSERT_EQ(Apply(PolicyYaml("info")).exit_code, 0);
  CommandResult watch =
      Fleetctl({"rollout", "status", "linux-servers", "--watch", "--timeout", "30s"});
  EXPECT_EQ(watch.exit_code, 0) << watch.err;
  EXPECT_TRUE(absl::StrContains(watch.err, "no agent is assigned to policy linux-servers"))
      << watch.err;
  EXPECT_TRUE(absl::StrContains(watch.err, "policy linux-servers rev 1: no agent assigned, "))
      << watch.err;
}

// An offline agent that has not acked holds the gate until --timeout (exit 5, not 0), unless
// --ignore-offline leaves it out, which it says.
TEST_F(FleetctlE2eTest, RolloutWatchWaitsForOfflineAgents) {
  ASSERT_EQ(Apply(PolicyYaml("info")).exit_code, 0);
  Enroll("web-1");
  CommandResult watch =
      Fleetctl({"rollout", "status", "linux-servers", "--watch", "--timeout", "2s"});
  EXPECT_EQ(watch.exit_code, 5) << watch.err;
  EXPECT_TRUE(absl::StrContains(watch.err, "not complete after 2s")) << watch.err;
  EXPECT_TRUE(absl::StrContains(watch.err, "0% acked (0/1)")) << watch.err;
}

// fleetd restarts during --watch: the watch says so, reconnects, and passes once the agent
// acks after the restart, instead of dying with exit 1.
TEST_F(FleetctlE2eTest, RolloutWatchRidesOutAFleetdRestart) {
  ASSERT_EQ(Apply(PolicyYaml("info")).exit_code, 0);
  const v1::EnrollResponse agent = Enroll("web-1");
  ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Subprocess> watch,
      Subprocess::Start({FLEETCTL_BIN, "--address", fleetd_->admin_address(), "--token-file",
                         fleetd_->bootstrap_token_file(), "rollout", "status", "linux-servers",
                         "--watch", "--timeout", "120s"},
                        {"XDG_CONFIG_HOME=" + tmp_.Sub("config")}));
  ASSERT_TRUE(watch->WaitForStderr("policy linux-servers rev 1:", absl::Seconds(60)));
  ASSERT_OK(fleetd_->Restart());
  ASSERT_TRUE(watch->WaitForStderr("reconnecting in", absl::Seconds(60)));
  testing::TestAgent connected(fleetd_->agent_address(), agent);
  ASSERT_TRUE(connected.Hello());
  std::optional<v1::PolicyUpdate> update = connected.ApplyNext();
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->target_revision(), 1);
  std::string out;
  std::string err;
  watch->DrainBoth(absl::Seconds(90), out, err);
  EXPECT_EQ(testing::ExitCode(watch->Wait(absl::Seconds(30))), 0) << err;
  EXPECT_TRUE(absl::StrContains(out, "linux-servers")) << out;
  EXPECT_TRUE(absl::StrContains(err, "100% acked (1/1)")) << err;
  connected.End();
}

// Applying an edited export of an old revision fails (exit 4) naming who changed the policy
// since, and changes nothing; --force overwrites; an export of the latest revision applies.
TEST_F(FleetctlE2eTest, StaleExportIsNotAppliedUnlessForced) {
  ASSERT_EQ(Apply(PolicyYaml("info")).exit_code, 0);
  CommandResult exported = Fleetctl({"get", "policy", "linux-servers", "-o", "yaml"});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  ASSERT_TRUE(absl::StrContains(exported.out, "revision: 1")) << exported.out;
  ASSERT_EQ(Apply(PolicyYaml("debug")).exit_code, 0);  // someone else: revision 2

  std::string edited = exported.out;
  edited.replace(edited.find("level: info"), 11, "level: warn");
  CommandResult stale = Apply(edited);
  EXPECT_EQ(stale.exit_code, 4) << stale.err;
  EXPECT_TRUE(absl::StrContains(stale.err,
                                "policy \"linux-servers\" is at revision 2, not the expected 1; "
                                "revision 2 was committed by "))
      << stale.err;
  EXPECT_TRUE(absl::StrContains(stale.err, "--force")) << stale.err;
  nlohmann::json policy = Json({"get", "policy", "linux-servers"});
  EXPECT_EQ(policy["status"]["revision"], 2);
  EXPECT_EQ(policy["spec"]["logs"]["level"], "debug");

  CommandResult forced = Apply(edited, {"--force"});
  EXPECT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(forced.out, "policy/linux-servers configured (revision 3)\n");

  CommandResult latest = Fleetctl({"get", "policy", "linux-servers", "-o", "yaml"});
  std::string fresh = latest.out;
  fresh.replace(fresh.find("level: warn"), 11, "level: error");
  CommandResult applied = Apply(fresh);
  EXPECT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_EQ(applied.out, "policy/linux-servers configured (revision 4)\n");
}

// diff prints what apply would change as a unified diff of the YAML and exits 1; 0 with no
// difference; 2 for usage errors; 7 for a bad file.
TEST_F(FleetctlE2eTest, DiffShowsWhatApplyWouldChange) {
  const std::string file = Write("p.yaml", PolicyYaml("info"));
  CommandResult created = Fleetctl({"diff", "-f", file});
  EXPECT_EQ(created.exit_code, 1) << created.err;
  EXPECT_TRUE(absl::StartsWith(
      created.out, "--- /dev/null\n+++ policy/linux-servers (" + file + ")\n@@ -0,0 +1,"))
      << created.out;
  EXPECT_TRUE(absl::StrContains(created.out, "\n+    level: info\n")) << created.out;

  ASSERT_EQ(Apply(PolicyYaml("info")).exit_code, 0);
  CommandResult same = Fleetctl({"diff", "-f", file});
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_EQ(same.out, "");
  // Formatting apply would not change is no difference either.
  CommandResult reformatted = Fleetctl(
      {"diff", "-f", Write("p.json", R"({"kind": "Policy", "metadata": {"name": "linux-servers",
         "description": "servers"}, "spec": {"logs": {"paths": ["/var/log/syslog"],
         "level": "info"}}})")});
  EXPECT_EQ(reformatted.exit_code, 0) << reformatted.out << reformatted.err;

  CommandResult changed = Fleetctl({"diff", "-f", Write("q.yaml", PolicyYaml("debug"))});
  EXPECT_EQ(changed.exit_code, 1) << changed.err;
  EXPECT_TRUE(absl::StrContains(changed.out,
                                "--- policy/linux-servers (fleetd, revision 1)\n+++ "
                                "policy/linux-servers ("))
      << changed.out;
  EXPECT_TRUE(absl::StrContains(changed.out, "\n-    level: info\n+    level: debug\n"))
      << changed.out;
  EXPECT_EQ(Json({"get", "policy", "linux-servers"})["status"]["revision"], 1);  // no change

  EXPECT_EQ(Fleetctl({"diff"}).exit_code, 2);
  CommandResult bad = Fleetctl({"diff", "-f", Write("bad.yaml", "kind: [\n")});
  EXPECT_EQ(bad.exit_code, 7) << bad.err;
  EXPECT_TRUE(absl::StartsWith(bad.err, "error: " + tmp_.Sub("bad.yaml") + ":")) << bad.err;
}

// An agent whose hostname holds a newline and escape sequences cannot fake a row of
// `get agents` or drive the terminal: the cell shows them escaped.
TEST_F(FleetctlE2eTest, HostnameEscapesAreShownEscaped) {
  ASSERT_EQ(Apply(PolicyYaml("info")).exit_code, 0);
  grpc::Status status;
  Enroll("evil\x1b[2J\n0123456789ab   fake-host   linux-servers", &status);
  if (!status.ok()) GTEST_SKIP() << "fleetd refused the hostname: " << status.error_message();
  CommandResult agents = Fleetctl({"get", "agents"});
  ASSERT_EQ(agents.exit_code, 0) << agents.err;
  EXPECT_EQ(agents.out.find('\x1b'), std::string::npos) << agents.out;
  const std::vector<std::string> lines = absl::StrSplit(agents.out, '\n', absl::SkipEmpty());
  EXPECT_EQ(lines.size(), 2u) << agents.out;
  EXPECT_TRUE(absl::StrContains(agents.out, "evil\\x1b[2J\\n0123456789ab")) << agents.out;
}

}  // namespace
}  // namespace fleet
