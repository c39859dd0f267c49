// The real fleetctl against a real fleetd, as an operator used to kubectl meets it: unknown
// commands and flags with suggestions, help with global flags and examples, one-line usage errors
// in the operator's words (exit 2), address errors, contexts (view, current-context, rename,
// delete), login/whoami/logout, version with and without a server, --request-timeout.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace fleet {
namespace {

using testing::CommandResult;
using testing::FleetdProcess;
using testing::TempDir;

int Lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

class FleetctlUsageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    absl::StatusOr<std::unique_ptr<FleetdProcess>> started =
        FleetdProcess::Start(FLEETD_BIN, dir_->Sub("data"));
    ASSERT_OK(started.status());
    fleetd_ = started->release();
  }
  static void TearDownTestSuite() {
    delete fleetd_;
    fleetd_ = nullptr;
    delete dir_;
    dir_ = nullptr;
  }

  // Runs fleetctl with a config dir of this test's own and no FLEETCTL_* from the caller.
  CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), FLEETCTL_BIN);
    absl::StatusOr<CommandResult> result =
        testing::RunCommand(args,
                            {"XDG_CONFIG_HOME=" + tmp_.Sub("config"),
                             "FLEETCTL_CONTEXT=", "FLEETCTL_ADDRESS=", "FLEETCTL_TOKEN_FILE="},
                            std::nullopt, absl::Seconds(60));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult();
  }

  // The same with fleetd's admin address and the bootstrap admin token.
  CommandResult RunAdmin(std::vector<std::string> args) {
    args.insert(args.begin(), {"--address", fleetd_->admin_address(), "--token-file",
                               fleetd_->bootstrap_token_file()});
    return Run(args);
  }

  // Expects exit 2 and exactly `error` (one line) on stderr, nothing on stdout.
  void ExpectUsageError(const std::vector<std::string>& args, const std::string& error) {
    CommandResult result = Run(args);
    const std::string command = absl::StrJoin(args, " ");
    EXPECT_EQ(result.exit_code, 2) << command << ": " << result.err;
    EXPECT_EQ(result.err, error + "\n") << command;
    EXPECT_EQ(result.out, "") << command;
  }

  static TempDir* dir_;
  static FleetdProcess* fleetd_;
  TempDir tmp_;
};

TempDir* FleetctlUsageTest::dir_ = nullptr;
FleetdProcess* FleetctlUsageTest::fleetd_ = nullptr;

// A misspelled command or flag names what was typed and the nearest spelling, at any depth.
TEST_F(FleetctlUsageTest, UnknownCommandsAndFlagsSuggestTheNearest) {
  ExpectUsageError({"gte", "policies"},
                   "error: unknown command \"gte\" for \"fleetctl\"; did you mean \"get\"?");
  ExpectUsageError({"get", "polices"},
                   "error: unknown command \"polices\" for \"fleetctl get\"; "
                   "did you mean \"policies\"?");
  ExpectUsageError({"config", "veiw"},
                   "error: unknown command \"veiw\" for \"fleetctl config\"; "
                   "did you mean \"view\"?");
  ExpectUsageError({"frobnicate"},
                   "error: unknown command \"frobnicate\" for \"fleetctl\"; see 'fleetctl --help'");
  ExpectUsageError(
      {"--adress", "127.0.0.1:1", "get", "policies"},
      "error: unknown flag \"--adress\" for \"fleetctl\"; did you mean \"--address\"?");
  ExpectUsageError({"get", "policies", "--adress=127.0.0.1:1"},
                   "error: unknown flag \"--adress\" for \"fleetctl get policies\"; did you mean "
                   "\"--address\"?");
  ExpectUsageError({"token", "create", "--polcy", "p"},
                   "error: unknown flag \"--polcy\" for \"fleetctl token create\"; did you mean "
                   "\"--policy\"?");
}

// `fleetctl`, `fleetctl help` and `fleetctl help COMMAND...` print help and exit 0; a group
// alone prints its help with its commands and exits 2.
TEST_F(FleetctlUsageTest, HelpCommandAndBareInvocation) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{}, {"help"}, {"--help"}}) {
    CommandResult result = Run(args);
    EXPECT_EQ(result.exit_code, 0) << absl::StrJoin(args, " ") << result.err;
    EXPECT_TRUE(absl::StrContains(result.out, "Usage: fleetctl")) << result.out;
    EXPECT_TRUE(absl::StrContains(result.out, "whoami")) << result.out;
  }
  CommandResult help = Run({"help", "get", "policies"});
  EXPECT_EQ(help.exit_code, 0) << help.err;
  EXPECT_TRUE(absl::StrContains(help.out, "Usage: fleetctl get policies")) << help.out;
  EXPECT_TRUE(absl::StrContains(help.out, "Global flags:")) << help.out;
  ExpectUsageError({"help", "gte"},
                   "error: unknown command \"gte\" for \"fleetctl\"; did you mean \"get\"?");
  CommandResult group = Run({"get"});
  EXPECT_EQ(group.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(group.out, "Usage: fleetctl get")) << group.out;
  EXPECT_TRUE(absl::StrContains(group.out, "admin-tokens")) << group.out;
  EXPECT_TRUE(absl::StartsWith(group.err, "error: fleetctl get needs a command: policies, "))
      << group.err;
  EXPECT_EQ(Lines(group.err), 1) << group.err;
}

// Every command's help shows its own flags, the global flags and examples; enum flags list their
// values by name.
TEST_F(FleetctlUsageTest, EveryCommandsHelpShowsGlobalFlagsAndExamples) {
  const std::vector<std::string> commands = {"login",
                                             "logout",
                                             "whoami",
                                             "version",
                                             "config",
                                             "config view",
                                             "config current-context",
                                             "config get-contexts",
                                             "config use-context",
                                             "config set-context",
                                             "config delete-context",
                                             "config rename-context",
                                             "apply",
                                             "diff",
                                             "get",
                                             "get policies",
                                             "get tokens",
                                             "get agents",
                                             "get admin-tokens",
                                             "describe",
                                             "describe policy",
                                             "describe agent",
                                             "delete",
                                             "delete policy",
                                             "policy",
                                             "policy history",
                                             "policy diff",
                                             "policy rollback",
                                             "token",
                                             "token create",
                                             "token revoke",
                                             "agent",
                                             "agent unenroll",
                                             "agent reassign",
                                             "agent label",
                                             "agent rotate-credentials",
                                             "admin-token",
                                             "admin-token create",
                                             "admin-token revoke",
                                             "rollout",
                                             "rollout status",
                                             "completion",
                                             "completion bash",
                                             "help"};
  for (const std::string& command : commands) {
    std::vector<std::string> args = absl::StrSplit(command, ' ');
    args.push_back("--help");
    CommandResult result = Run(args);
    EXPECT_EQ(result.exit_code, 0) << command << ": " << result.err;
    for (const std::string& part :
         {std::string("Global flags:"), std::string("--request-timeout"),
          std::string("Examples:\n  fleetctl ") +
              (command == "completion" || command == "completion bash" ? "" : command)}) {
      EXPECT_TRUE(absl::StrContains(result.out, part) ||
                  (absl::StartsWith(command, "completion") &&
                   absl::StrContains(result.out, "Examples:\n  source <(fleetctl completion")))
          << command << " help lacks " << part << ":\n"
          << result.out;
    }
    EXPECT_FALSE(absl::StrContains(result.out, "->")) << command << ":\n" << result.out;
  }
  CommandResult create = Run({"admin-token", "create", "--help"});
  EXPECT_TRUE(absl::StrContains(create.out, "--role admin|operator|viewer REQUIRED")) << create.out;
  EXPECT_TRUE(absl::StrContains(create.out, "-o,--output table|wide|name|json|yaml")) << create.out;
}

// Bad flag values and arguments are one line starting "error:", in the operator's words, exit 2.
TEST_F(FleetctlUsageTest, ParseErrorsAreOneLineInTheOperatorsWords) {
  ExpectUsageError({"admin-token", "create", "--role", "root"},
                   "error: invalid --role \"root\": want admin, operator or viewer");
  // A role's number is not a role.
  ExpectUsageError({"admin-token", "create", "--role", "1"},
                   "error: invalid --role \"1\": want admin, operator or viewer");
  ExpectUsageError({"get", "policies", "p", "--revision", "0"},
                   "error: invalid --revision \"0\": revisions start at 1");
  ExpectUsageError({"get", "policies", "p", "--revision", "x"},
                   "error: invalid --revision \"x\": want a whole number from 1");
  ExpectUsageError({"rollout", "status", "p", "--max-nacked", "-1"},
                   "error: invalid --max-nacked \"-1\": want 0 or more");
  ExpectUsageError({"token", "create"}, "error: fleetctl token create needs --policy NAME");
  ExpectUsageError({"agent", "unenroll"},
                   "error: name the agents by ID (one or more) or by -l SELECTOR");
  ExpectUsageError({"apply"}, "error: fleetctl apply needs -f/--filename FILE");
  ExpectUsageError({"apply", "-f"}, "error: --filename needs a value");
  ExpectUsageError({"get", "policies", "a", "b"},
                   "error: unexpected argument \"b\" for \"fleetctl get policies\"; see 'fleetctl "
                   "get policies --help'");
  ExpectUsageError({"--request-timeout", "soon", "version"},
                   "error: invalid --request-timeout \"soon\": want a duration such as 30s, 2m or "
                   "1m30s, or 0 for no limit");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"-o", "xml", "get", "policies"}, {"get", "agents", "--status", "sleeping"}}) {
    CommandResult result = Run(args);
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_TRUE(absl::StartsWith(result.err, "error: invalid --")) << result.err;
    EXPECT_TRUE(absl::StrContains(result.err, "\": want ")) << result.err;
    EXPECT_EQ(Lines(result.err), 1) << result.err;
  }
}

// An address without a port or with a scheme is refused before dialing (exit 2); a port that
// answers but is not the admin API (fleetd's agent port, its HTTP endpoint) says so.
TEST_F(FleetctlUsageTest, AddressErrorsSayWhatIsWrong) {
  ExpectUsageError({"--address", "127.0.0.1", "whoami"},
                   "error: --address \"127.0.0.1\" has no port; want HOST:PORT, e.g. "
                   "127.0.0.1:8221");
  ExpectUsageError({"--address", "http://127.0.0.1:8221", "whoami"},
                   "error: --address \"http://127.0.0.1:8221\": want HOST:PORT without "
                   "\"http://\", e.g. 127.0.0.1:8221");
  ExpectUsageError({"--address", "127.0.0.1:99999", "whoami"},
                   "error: --address \"127.0.0.1:99999\": the port must be a number from 1 to "
                   "65535");
  CommandResult result = Run({"--address", fleetd_->agent_address(), "--token-file",
                              fleetd_->bootstrap_token_file(), "get", "policies"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "error: " + fleetd_->agent_address() +
                            " answered but is not fleetd's admin API (is it the agent port?)\n");
  result = Run({"--address", fleetd_->http_address(), "--token-file",
                fleetd_->bootstrap_token_file(), "get", "policies"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(result.err, "error: " + fleetd_->http_address() +
                                               " answered HTTP/1, not gRPC: is it fleetd's HTTP "
                                               "endpoint (--http-addr)?"))
      << result.err;
}

// A context that is not in the config is a usage error (2), not "not found" (3).
TEST_F(FleetctlUsageTest, UnknownContextIsAUsageError) {
  const std::string error =
      "error: context \"nope\" is not in the config; see fleetctl config get-contexts";
  ExpectUsageError({"--context", "nope", "get", "policies"}, error);
  ExpectUsageError({"config", "use-context", "nope"}, error);
  ExpectUsageError({"config", "delete-context", "nope"}, error);
  ExpectUsageError({"config", "rename-context", "nope", "other"}, error);
  ExpectUsageError({"logout", "--context", "nope"}, error);
  ExpectUsageError({"logout"}, "error: no current context to log out of; pass --context NAME");
}

// config view, current-context, rename-context and delete-context read and change the file.
TEST_F(FleetctlUsageTest, ContextCommands) {
  std::ofstream(tmp_.Sub("lab.token")) << "fadm_x\n";
  ASSERT_EQ(Run({"config", "set-context", "lab", "--address", "lab:8221", "--token-file",
                 tmp_.Sub("lab.token")})
                .exit_code,
            0);
  ASSERT_EQ(Run({"config", "set-context", "prod", "--address", "prod:8221"}).exit_code, 0);
  EXPECT_EQ(Run({"config", "current-context"}).out, "lab\n");

  CommandResult view = Run({"config", "view"});
  EXPECT_EQ(view.exit_code, 0) << view.err;
  EXPECT_TRUE(absl::StrContains(view.out, "current-context: lab")) << view.out;
  EXPECT_TRUE(absl::StrContains(view.out, "token-file: " + tmp_.Sub("lab.token"))) << view.out;
  nlohmann::json json = nlohmann::json::parse(Run({"config", "view", "-o", "json"}).out);
  EXPECT_EQ(json["current-context"], "lab");
  EXPECT_EQ(json["contexts"][1]["address"], "prod:8221");

  CommandResult renamed = Run({"config", "rename-context", "lab", "staging"});
  EXPECT_EQ(renamed.exit_code, 0) << renamed.err;
  EXPECT_EQ(Run({"config", "current-context"}).out, "staging\n");
  CommandResult taken = Run({"config", "rename-context", "staging", "prod"});
  EXPECT_EQ(taken.exit_code, 4);
  EXPECT_EQ(taken.err, "error: context \"prod\" exists already; delete or rename it first\n");

  CommandResult deleted = Run({"config", "delete-context", "staging"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted.err;
  EXPECT_TRUE(absl::StrContains(deleted.out, "It was the current context")) << deleted.out;
  CommandResult none = Run({"config", "current-context"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(none.err, "error: no current context is set")) << none.err;
  json = nlohmann::json::parse(Run({"config", "view", "-o", "json"}).out);
  ASSERT_EQ(json["contexts"].size(), 1u);
  EXPECT_EQ(json["contexts"][0]["name"], "prod");
}

// login saves a context, whoami shows the token's id and role, logout forgets the token file
// (keeping the context and the file), after which commands ask for a login.
TEST_F(FleetctlUsageTest, LoginWhoamiLogout) {
  CommandResult login = RunAdmin({"login"});
  ASSERT_EQ(login.exit_code, 0) << login.err;

  CommandResult me = Run({"whoami", "-o", "json"});
  ASSERT_EQ(me.exit_code, 0) << me.err;
  nlohmann::json json = nlohmann::json::parse(me.out);
  EXPECT_EQ(json["apiVersion"], "fleet/v1");
  EXPECT_EQ(json["kind"], "WhoAmI");
  EXPECT_EQ(json["spec"]["role"], "admin");
  const std::string token_id = json["metadata"]["id"].get<std::string>();
  EXPECT_FALSE(token_id.empty());
  EXPECT_EQ(json["metadata"]["description"], "bootstrap");
  EXPECT_FALSE(json["status"]["serverAddress"].get<std::string>().empty());
  CommandResult table = Run({"whoami"});
  EXPECT_TRUE(absl::StrContains(table.out, token_id)) << table.out;
  EXPECT_TRUE(absl::StrContains(table.out, "admin")) << table.out;

  CommandResult logout = Run({"logout"});
  EXPECT_EQ(logout.exit_code, 0) << logout.err;
  EXPECT_TRUE(absl::StrContains(logout.out, "Logged out of context \"default\"")) << logout.out;
  EXPECT_TRUE(std::ifstream(fleetd_->bootstrap_token_file()).good());
  CommandResult after = Run({"whoami"});
  EXPECT_EQ(after.exit_code, 6);
  EXPECT_TRUE(absl::StartsWith(after.err, "error: no admin token configured; run fleetctl login"))
      << after.err;
  json = nlohmann::json::parse(Run({"config", "view", "-o", "json"}).out);
  EXPECT_EQ(json["current-context"], "default");
  EXPECT_EQ(json["contexts"][0]["address"], fleetd_->admin_address());
  EXPECT_FALSE(json["contexts"][0].contains("token-file")) << json.dump();
}

// version prints the client's version always; the server's when fleetd answers; when it does
// not, the error too (exit 1, as kubectl); --client asks no server.
TEST_F(FleetctlUsageTest, VersionWithAndWithoutAServer) {
  CommandResult both = RunAdmin({"version", "-o", "json"});
  ASSERT_EQ(both.exit_code, 0) << both.err;
  nlohmann::json json = nlohmann::json::parse(both.out);
  EXPECT_FALSE(json["clientVersion"].get<std::string>().empty());
  EXPECT_EQ(json["serverVersion"], json["clientVersion"]);

  CommandResult down = Run({"--address", "127.0.0.1:1", "version"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(down.out, "Client Version:")) << down.out;
  EXPECT_FALSE(absl::StrContains(down.out, "Server")) << down.out;
  EXPECT_TRUE(absl::StartsWith(down.err, "error: cannot reach fleetd at 127.0.0.1:1")) << down.err;
  EXPECT_EQ(Lines(down.err), 1) << down.err;

  CommandResult client = Run({"--address", "127.0.0.1:1", "version", "--client"});
  EXPECT_EQ(client.exit_code, 0) << client.err;
  EXPECT_TRUE(absl::StartsWith(client.out, "Client Version:")) << client.out;
  EXPECT_EQ(client.err, "");
}

// --request-timeout is the deadline of each call: a listener that never answers fails the call
// with exit 5 naming the flag.
TEST_F(FleetctlUsageTest, RequestTimeoutIsTheDeadlineOfEachCall) {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 8), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string silent = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));

  CommandResult result = Run({"--address", silent, "--request-timeout", "1s", "version"});
  EXPECT_EQ(result.exit_code, 5) << result.err;
  EXPECT_EQ(result.err,
            "error: fleetd at " + silent + " did not answer within 1s (see --request-timeout)\n");
  close(listener);
}

// An error fleetd finds in what the flags asked for (a malformed selector) is a usage error.
TEST_F(FleetctlUsageTest, ServerRefusedFlagsAreUsageErrors) {
  CommandResult result = RunAdmin({"get", "agents", "-l", "=x"});
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_TRUE(absl::StartsWith(result.err, "error: ")) << result.err;
  EXPECT_EQ(Lines(result.err), 1) << result.err;
}

}  // namespace
}  // namespace fleet
