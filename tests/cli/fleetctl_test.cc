// The real fleetctl binary, for everything that needs no fleetd: help, usage errors (exit 2),
// local errors reported before any RPC, contexts, and the completion script.
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace fleet::cli {
namespace {

using ::fleet::testing::CommandResult;
using ::fleet::testing::RunCommand;
using ::fleet::testing::TempDir;

class FleetctlTest : public ::testing::Test {
 protected:
  // Runs fleetctl with a config dir of its own and no FLEETCTL_* overrides from the caller.
  CommandResult Run(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.insert(args.begin(), FLEETCTL_BIN);
    absl::StatusOr<CommandResult> result =
        RunCommand(args,
                   {"XDG_CONFIG_HOME=" + tmp_.Sub("config"),
                    "FLEETCTL_CONTEXT=", "FLEETCTL_ADDRESS=", "FLEETCTL_TOKEN_FILE="},
                   stdin_data, absl::Seconds(30));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult();
  }

  TempDir tmp_;
};

// The top-level help names every command and documents the exit codes.
TEST_F(FleetctlTest, HelpListsCommandsAndExitCodes) {
  CommandResult result = Run({"--help"});
  EXPECT_EQ(result.exit_code, 0);
  for (const char* word : {"login", "config", "apply", "get", "describe", "delete", "policy",
                           "token", "agent", "admin-token", "rollout", "completion", "Exit codes",
                           "3  not found", "6  not authenticated", "FLEETCTL_ADDRESS"}) {
    EXPECT_TRUE(absl::StrContains(result.out, word)) << word << " missing from:\n" << result.out;
  }
}

// Bad flags and arguments are usage errors: exit 2, nothing sent anywhere.
TEST_F(FleetctlTest, UsageErrorsExit2) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"token", "create", "--policy", "p", "--ttl", "1d"},
           {"rollout", "status", "p", "--watch", "--timeout", "soon"},
           {"rollout", "status", "p", "--timeout", "5m"},
           {"agent", "label", "abc", "novalue"},
           {"admin-token", "create", "--role", "root"},
           {"get", "agents", "--status", "sleeping"},
           {"get", "policies", "--revision", "2"},
           {"get"},
           {"policy", "diff", "p", "--from", "1"},
           {"login", "--address", "127.0.0.1:1"},
           {"apply"}}) {
    CommandResult result = Run(args);
    EXPECT_EQ(result.exit_code, 2) << absl::StrJoin(args, " ") << ": " << result.err;
  }
}

// With no token anywhere, a command that needs one exits 6 and says how to log in.
TEST_F(FleetctlTest, NoTokenExits6WithLoginHint) {
  CommandResult result = Run({"get", "policies"});
  EXPECT_EQ(result.exit_code, 6);
  EXPECT_TRUE(absl::StartsWith(result.err, "error: no admin token configured; run fleetctl login"))
      << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

// A token file that does not exist is one clear error line.
TEST_F(FleetctlTest, MissingTokenFileIsOneLine) {
  CommandResult result = Run({"--token-file", tmp_.Sub("gone"), "get", "agents"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err,
            "error: token file " + tmp_.Sub("gone") +
                ": No such file or directory; run fleetctl login or pass --token-file\n");
}

// apply checks the whole file first: a bad document is reported with its line, nothing sent.
TEST_F(FleetctlTest, ApplyReportsBadFileBeforeConnecting) {
  CommandResult result = Run({"--address", "127.0.0.1:1", "apply", "-f", "-"},
                             "kind: Policy\nmetadata: {name: a}\nspec: {}\n---\n"
                             "kind: Policy\nmetadata:\n  name: [b\n");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(result.err, "error: stdin: line ")) << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;

  result = Run({"apply", "-f", tmp_.Sub("none.yaml")});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(result.err, "cannot read " + tmp_.Sub("none.yaml"))) << result.err;
}

// set-context, use-context and get-contexts manage the config file.
TEST_F(FleetctlTest, Contexts) {
  std::ofstream(tmp_.Sub("t.token")) << "fadm_x\n";
  EXPECT_EQ(Run({"config", "set-context", "lab", "--address", "lab:8221", "--token-file",
                 tmp_.Sub("t.token")})
                .exit_code,
            0);
  EXPECT_EQ(Run({"config", "set-context", "prod", "--address", "prod:8221"}).exit_code, 0);
  EXPECT_EQ(Run({"config", "set-context", "new"}).exit_code, 1);  // a new one needs --address
  EXPECT_EQ(Run({"config", "use-context", "nope"}).exit_code, 3);
  EXPECT_EQ(Run({"config", "use-context", "prod"}).exit_code, 0);
  CommandResult json = Run({"config", "get-contexts", "-o", "json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(absl::StrContains(json.out, "\"currentContext\": \"prod\"")) << json.out;
  EXPECT_TRUE(absl::StrContains(json.out, "\"tokenFile\": \"" + tmp_.Sub("t.token") + "\""))
      << json.out;
  CommandResult table = Run({"config", "get-contexts"});
  EXPECT_TRUE(absl::StrContains(table.out, "*         prod")) << table.out;
}

// The bash completion script is valid bash and knows the commands and their flags.
TEST_F(FleetctlTest, CompletionScriptIsValidBash) {
  CommandResult result = Run({"completion", "bash"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* word :
       {"[\"fleetctl rollout status\"]", "--watch", "--dry-run", "complete -F"}) {
    EXPECT_TRUE(absl::StrContains(result.out, word)) << word;
  }
  std::ofstream(tmp_.Sub("completion.bash")) << result.out;
  absl::StatusOr<CommandResult> check =
      RunCommand({"/bin/bash", "-n", tmp_.Sub("completion.bash")});
  ASSERT_OK(check);
  EXPECT_EQ(check->exit_code, 0) << check->err;
}

}  // namespace
}  // namespace fleet::cli
