// The real fleetctl binary, for everything that needs no fleetd: help, usage errors (exit 2),
// local errors reported before any RPC, contexts, and the completion script.
#include <algorithm>
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
  for (const char* word :
       {"login", "config", "apply", "get", "describe", "delete", "policy", "token", "agent",
        "admin-token", "rollout", "diff", "completion", "Exit codes", "1 differences",
        "3  not found", "6  not authenticated", "FLEETCTL_ADDRESS"}) {
    EXPECT_TRUE(absl::StrContains(result.out, word)) << word << " missing from:\n" << result.out;
  }
}

// The action and query commands refuse bad flags before asking fleetd (none runs here): exit 2
// and one line naming the flag and what to do.
TEST_F(FleetctlTest, ActionAndQueryUsageErrorsNameTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"action", "create", "restart"}, "name the targets of the action: --agent ID"},
      {{"action", "create", "upgrade", "--agent", "a", "--arg", "version"},
       "invalid --arg \"version\": want KEY=VALUE"},
      {{"action", "create", "upgrade", "--agent", "a", "--arg", "v=1", "--arg", "v=2"},
       "--arg v given twice"},
      {{"action", "create", "upgrade", "--agent", "a", "--arg", "v=1", "--args-json", "{\"v\":2}"},
       "--arg v and --args-json both set \"v\""},
      {{"action", "create", "custom", "--agent", "a", "--args-json", "[1]"},
       "invalid --args-json: want a JSON object"},
      {{"action", "create", "restart", "--agent", "a", "--expires", "1d"}, "invalid --expires"},
      {{"action", "create", "restart", "--agent", "a", "--rollout", "2h", "--expires", "1h"},
       "--rollout 2h is not shorter than --expires 1h"},
      {{"action", "create", "restart", "--agent", "a", "--timeout", "5m"},
       "--timeout requires --watch"},
      {{"action", "status"}, "fleetctl action status needs ID"},
      {{"get", "actions", "--state", "running"},
       "invalid --state \"running\": want active, cancelled, done or expired"},
      {{"query", "SELECT 1"}, "name the targets of the query"},
      {{"query", "SELECT 1", "--agent", "a", "--timeout", "11m"}, "invalid --timeout \"11m\""},
      {{"query", "SELECT", "1", "--agent", "a"}, "unexpected argument \"1\""},
  };
  for (const auto& [args, message] : cases) {
    CommandResult result = Run(args);
    EXPECT_EQ(result.exit_code, 2) << absl::StrJoin(args, " ") << "\n" << result.err;
    EXPECT_TRUE(absl::StrContains(result.err, "error: " + message))
        << absl::StrJoin(args, " ") << "\n"
        << result.err;
    EXPECT_EQ(result.out, "") << absl::StrJoin(args, " ");
  }
}

// Each action and query command has help with examples, and the top-level help lists them.
TEST_F(FleetctlTest, ActionAndQueryHelpHasExamples) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"action", "create", "--help"},
                                             {"action", "status", "--help"},
                                             {"action", "cancel", "--help"},
                                             {"get", "actions", "--help"},
                                             {"describe", "action", "--help"},
                                             {"query", "--help"}}) {
    CommandResult result = Run(args);
    EXPECT_EQ(result.exit_code, 0) << absl::StrJoin(args, " ");
    EXPECT_TRUE(absl::StrContains(result.out, "Examples:")) << result.out;
    EXPECT_TRUE(absl::StrContains(result.out, "fleetctl " + args[0])) << result.out;
  }
  CommandResult top = Run({"--help"});
  EXPECT_TRUE(absl::StrContains(top.out, "action")) << top.out;
  EXPECT_TRUE(absl::StrContains(top.out, "query")) << top.out;
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
           {"apply"},
           {"diff"},
           {"rollout", "status", "p", "--max-nacked", "-1"},
           {"rollout", "status", "p", "--ignore-offline"}}) {
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
  EXPECT_TRUE(absl::StartsWith(result.err, "error: stdin:8: malformed YAML")) << result.err;
  EXPECT_TRUE(result.out.empty()) << result.out;

  result = Run({"apply", "-f", tmp_.Sub("none.yaml")});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(result.err, "cannot read " + tmp_.Sub("none.yaml"))) << result.err;
}

// Input that crashed fleetctl or ate memory is one error line naming the file and the line, and
// nothing is sent: 100,000 nested brackets, 1e400, a big integer, ill-formed UTF-8 in YAML, a
// 400-byte alias bomb, a duplicate key.
TEST_F(FleetctlTest, HostileDocumentsAreErrorsWithFileAndLine) {
  const std::string policy = "kind: Policy\nmetadata: {name: a}\nspec:\n";
  std::string bomb = policy + "  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  std::string previous = "a";
  for (const std::string name : {"b", "c", "d", "e", "f", "g", "h", "i"}) {
    bomb += "  " + name + ": &" + name + " [";
    for (int i = 0; i < 9; ++i) bomb += (i > 0 ? ", *" : "*") + previous;
    bomb += "]\n";
    previous = name;
  }
  const struct {
    std::string name, content, error;
  } cases[] = {
      {"deep.json",
       "{\"kind\": \"Policy\", \"metadata\": {\"name\": \"a\"},\n\"spec\": {\"x\": " +
           std::string(100000, '[') + std::string(100000, ']') + "}}",
       ":2: spec.x[0][0][0]"},
      {"inf.json",
       "{\"kind\": \"Policy\", \"metadata\": {\"name\": \"a\"},\n\"spec\": {\"x\": 1e400}}",
       ":2: spec.x: 1e400 is outside the range of a double; quote it as a string"},
      {"big.yaml", policy + "  limits:\n    max: 12345678901234567890\n",
       ":5: spec.limits.max: 12345678901234567890 cannot be represented exactly; quote it as a "
       "string"},
      {"utf8.yaml", policy + "  x: \"\xff\"\n", ":4: not well-formed UTF-8"},
      {"bomb.yaml", bomb, "YAML nodes (aliases repeat what they name: an alias bomb?)"},
      {"dup.json", "{\"kind\": \"Policy\",\n\"kind\": \"Policy\"}",
       ":2: kind: given twice in one object"},
      {"deep.yaml", policy + "  x: " + std::string(100000, '[') + std::string(100000, ']') + "\n",
       "more than 64 levels deep"},
  };
  for (const auto& [name, content, error] : cases) {
    const std::string path = tmp_.Sub(name);
    std::ofstream(path) << content;
    CommandResult result = Run({"--address", "127.0.0.1:1", "apply", "-f", path});
    EXPECT_EQ(result.exit_code, 1) << name << ": " << result.err;
    EXPECT_TRUE(absl::StartsWith(result.err, "error: " + path + ":")) << name << ": " << result.err;
    EXPECT_TRUE(absl::StrContains(result.err, error)) << name << ": " << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
}

// A token file with a second line made gRPC abort and print the whole admin token; now it is
// refused (exit 6) without a word of its content.
TEST_F(FleetctlTest, BadTokenFileIsNeverEchoed) {
  const std::string secret = "fadm_0123456789ab_" + std::string(60, 'f') + "c0ffee";
  for (const std::string& content :
       {secret + "\nsecond line\n", secret + "\x01", secret + "\n\n"}) {
    std::ofstream(tmp_.Sub("admin.token")) << content;
    CommandResult result =
        Run({"--address", "127.0.0.1:1", "--token-file", tmp_.Sub("admin.token"), "get", "agents"});
    EXPECT_EQ(result.exit_code, 6) << result.err;
    EXPECT_TRUE(absl::StartsWith(result.err, "error: token file " + tmp_.Sub("admin.token") + ":"))
        << result.err;
    EXPECT_EQ(result.err.find("c0ffee"), std::string::npos) << result.err;
    EXPECT_EQ(result.out.find("c0ffee"), std::string::npos) << result.out;
  }
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
  EXPECT_EQ(Run({"config", "use-context", "nope"}).exit_code, 2);
  EXPECT_EQ(Run({"config", "use-context", "prod"}).exit_code, 0);
  CommandResult json = Run({"config", "get-contexts", "-o", "json"});
  EXPECT_EQ(json.exit_code, 0) << json.err;
  EXPECT_TRUE(absl::StrContains(json.out, "\"currentContext\": \"prod\"")) << json.out;
  EXPECT_TRUE(absl::StrContains(json.out, "\"tokenFile\": \"" + tmp_.Sub("t.token") + "\""))
      << json.out;
  CommandResult table = Run({"config", "get-contexts"});
  EXPECT_TRUE(absl::StrContains(table.out, "*         prod")) << table.out;
}

// The bash completion script is valid bash and asks `fleetctl __complete` instead of listing
// commands, so that it cannot go stale (fleetctl_completion_test.cc runs it in bash).
TEST_F(FleetctlTest, CompletionScriptIsValidBash) {
  CommandResult result = Run({"completion", "bash"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* word : {"__complete --", "complete -F _fleetctl fleetctl"}) {
    EXPECT_TRUE(absl::StrContains(result.out, word)) << word;
  }
  EXPECT_FALSE(absl::StrContains(result.out, "rollout")) << result.out;
  std::ofstream(tmp_.Sub("completion.bash")) << result.out;
  absl::StatusOr<CommandResult> check =
      RunCommand({"/bin/bash", "-n", tmp_.Sub("completion.bash")});
  ASSERT_OK(check);
  EXPECT_EQ(check->exit_code, 0) << check->err;
}

}  // namespace
}  // namespace fleet::cli
