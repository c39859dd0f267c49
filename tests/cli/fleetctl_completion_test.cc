// The real fleetctl's completion and manual pages: `__complete` on the real command tree, its
// dynamic candidates from a real fleetd (and silence when fleetd is down), the bash script run
// by a real bash, the zsh and fish scripts parsed by their shells when installed, and the pages
// of `docs man` rendered by groff when installed.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "fleet/v1/admin.grpc.pb.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/testing/fleetctl_runner.h"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_agent.h"

namespace fleet {
namespace {

using testing::CommandResult;
using ::testing::Contains;
using ::testing::ElementsAre;
using testing::FleetdProcess;
using ::testing::IsEmpty;
using ::testing::IsSupersetOf;
using ::testing::Not;
using testing::TempDir;

// The values (before any tab) of the lines `out` holds.
std::vector<std::string> Values(const std::string& out) {
  std::vector<std::string> values;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    values.emplace_back(line.substr(0, line.find('\t')));
  }
  return values;
}

// Where `program` is on PATH, or nullopt.
std::optional<std::string> FindProgram(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return std::nullopt;
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    const std::string candidate = absl::StrCat(dir, "/", program);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

// Single-quoted for a POSIX shell.
std::string ShellQuote(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

class FleetctlCompletionTest : public ::testing::Test {
 protected:
  // fleetctl run with `args` and no fleetd flags, its config in the test's directory.
  CommandResult Run(const std::vector<std::string>& args,
                    const std::optional<std::string>& input = std::nullopt) {
    std::vector<std::string> argv = {FLEETCTL_BIN};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<CommandResult> result =
        testing::RunCommand(argv, {"XDG_CONFIG_HOME=" + tmp_.Sub("config")}, input);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }

  // `__complete -- WORDS`, which must succeed silently; the candidates' values.
  std::vector<std::string> Complete(const std::vector<std::string>& words,
                                    const std::vector<std::string>& flags = {}) {
    std::vector<std::string> args = flags;
    args.insert(args.end(), {"__complete", "--"});
    args.insert(args.end(), words.begin(), words.end());
    CommandResult result = Run(args);
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.err, "");
    return Values(result.out);
  }

  // The flags that point fleetctl at `fleetd_` with its bootstrap token.
  std::vector<std::string> FleetdFlags() const {
    return {"--address", fleetd_->admin_address(), "--token-file", fleetd_->bootstrap_token_file()};
  }

  void StartFleetd() {
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FLEETD_BIN, tmp_.Sub("data")));
  }

  void ApplyPolicy(const std::string& name) {
    CommandResult applied = testing::RunFleetctl(
        FLEETCTL_BIN, *fleetd_, tmp_.Sub("config"), {"apply", "-f", "-"}, "",
        absl::StrCat("kind: Policy\nmetadata:\n  name: ", name, "\n  description: d\nspec: {}\n"));
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
  }

  // An enrollment token of `policy`, made through the admin API itself so that the test does not
  // depend on how fleetctl prints one.
  v1::CreateEnrollmentTokenResponse CreateToken(const std::string& policy) {
    std::ifstream in(fleetd_->bootstrap_token_file());
    std::string admin_token;
    std::getline(in, admin_token);
    auto stub = v1::AdminService::NewStub(
        grpc::CreateChannel(fleetd_->admin_address(), grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + admin_token);
    v1::CreateEnrollmentTokenRequest request;
    request.set_policy(policy);
    v1::CreateEnrollmentTokenResponse response;
    grpc::Status status = stub->CreateEnrollmentToken(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // The COMPREPLY of the bash script, loaded in a real bash, for COMP_WORDS `words` (after the
  // program) with the cursor on the last one.
  std::vector<std::string> BashComplete(const std::vector<std::string>& words) {
    std::vector<std::string> quoted = {ShellQuote(FLEETCTL_BIN)};
    for (const std::string& word : words) quoted.push_back(ShellQuote(word));
    const std::string script =
        absl::StrCat("source <(", ShellQuote(FLEETCTL_BIN), " completion bash) || exit 9\n",
                     "COMP_WORDS=(", absl::StrJoin(quoted, " "), ")\n", "COMP_CWORD=", words.size(),
                     "\n", "_fleetctl || exit 8\n", "printf '%s\\n' \"${COMPREPLY[@]}\"\n");
    absl::StatusOr<CommandResult> result =
        testing::RunCommand({"/bin/bash", "--norc", "--noprofile", "-c", script},
                            {"XDG_CONFIG_HOME=" + tmp_.Sub("config")});
    EXPECT_TRUE(result.ok()) << result.status();
    if (!result.ok()) return {};
    EXPECT_EQ(result->exit_code, 0) << result->err;
    EXPECT_EQ(result->err, "");
    return Values(result->out);
  }

  TempDir tmp_;
  std::unique_ptr<FleetdProcess> fleetd_;
};

// Commands and flags complete from the real tree, without fleetd.
TEST_F(FleetctlCompletionTest, CommandsAndFlagsFromTheTree) {
  CommandResult plain = Run({"__complete", "get", "po"});
  EXPECT_EQ(plain.exit_code, 0);
  EXPECT_EQ(plain.err, "");
  EXPECT_THAT(Values(plain.out), ElementsAre("policies"));
  EXPECT_THAT(Complete({""}), IsSupersetOf({"get", "apply", "completion", "docs"}));
  EXPECT_THAT(Complete({""}), Not(Contains("__complete")));
  EXPECT_THAT(Complete({"get", "policies", "--rev"}), ElementsAre("--revision"));
  EXPECT_THAT(Complete({"completion", ""}), ElementsAre("bash", "zsh", "fish"));
  EXPECT_THAT(Complete({"get", "-o", ""}), IsSupersetOf({"table", "json", "yaml"}));
  EXPECT_THAT(Complete({"admin-token", "create", "--role", ""}),
              ElementsAre("admin", "operator", "viewer"));
  EXPECT_THAT(Complete({"apply", "-f", ""}), ElementsAre(":files"));
}

// Policy names, agent ids and enrollment token ids come from a real fleetd, wherever a command
// takes one.
TEST_F(FleetctlCompletionTest, DynamicCandidatesFromFleetd) {
  StartFleetd();
  ApplyPolicy("linux-servers");
  ApplyPolicy("laptops");
  const std::vector<std::string> flags = FleetdFlags();
  EXPECT_THAT(Complete({"get", "policies", ""}, flags), ElementsAre("laptops", "linux-servers"));
  EXPECT_THAT(Complete({"describe", "policy", "li"}, flags), ElementsAre("linux-servers"));
  EXPECT_THAT(Complete({"delete", "policy", "la"}, flags), ElementsAre("laptops"));
  EXPECT_THAT(Complete({"policy", "history", "la"}, flags), ElementsAre("laptops"));
  EXPECT_THAT(Complete({"rollout", "status", "li"}, flags), ElementsAre("linux-servers"));
  EXPECT_THAT(Complete({"get", "agents", "--policy", "la"}, flags), ElementsAre("laptops"));
  // The global flags may also be typed among the words.
  std::vector<std::string> typed = flags;
  typed.insert(typed.end(), {"get", "policies", "la"});
  EXPECT_THAT(Complete(typed), ElementsAre("laptops"));

  const v1::CreateEnrollmentTokenResponse token = CreateToken("laptops");
  EXPECT_THAT(Complete({"token", "revoke", ""}, flags), ElementsAre(token.token().id()));

  v1::EnrollResponse enrolled;
  grpc::Status status =
      testing::EnrollAgent(fleetd_->agent_address(), token.secret(), "host-a", &enrolled);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(Complete({"describe", "agent", ""}, flags), ElementsAre(enrolled.agent_id()));
  EXPECT_THAT(Complete({"agent", "reassign", ""}, flags), ElementsAre(enrolled.agent_id()));
}

// With fleetd down (or no token), completion prints nothing at all and exits 0.
TEST_F(FleetctlCompletionTest, SilentWhenFleetdIsDown) {
  StartFleetd();
  ApplyPolicy("web");
  const std::vector<std::string> flags = FleetdFlags();
  ASSERT_OK(fleetd_->Stop());
  EXPECT_THAT(Complete({"get", "policies", ""}, flags), IsEmpty());
  EXPECT_THAT(Complete({"describe", "agent", ""}, flags), IsEmpty());
  EXPECT_THAT(Complete({"get", "policies", ""}, {"--token-file", tmp_.Sub("missing")}), IsEmpty());
}

// Context names come from the config file.
TEST_F(FleetctlCompletionTest, ContextNamesFromTheConfig) {
  for (const char* name : {"prod", "staging"}) {
    CommandResult set = Run({"config", "set-context", name, "--address", "127.0.0.1:1"});
    ASSERT_EQ(set.exit_code, 0) << set.err;
  }
  EXPECT_THAT(Complete({"config", "use-context", ""}), ElementsAre("prod", "staging"));
  EXPECT_THAT(Complete({"--context", "st"}), ElementsAre("staging"));
}

// The bash script, loaded in a real bash, fills COMPREPLY through __complete: commands, flags,
// values after "--flag=" (which bash splits at "="), file names, and policy names from fleetd.
TEST_F(FleetctlCompletionTest, BashScriptFillsCompreply) {
  EXPECT_THAT(BashComplete({"get", "po"}), ElementsAre("policies"));
  EXPECT_THAT(BashComplete({"get", "policies", "--rev"}), ElementsAre("--revision"));
  EXPECT_THAT(BashComplete({"get", "--output", "=", "ya"}), ElementsAre("yaml"));
  EXPECT_THAT(BashComplete({"get", "--output", "="}), IsSupersetOf({"=json", "=yaml"}));
  std::ofstream(tmp_.Sub("policy.yaml")) << "kind: Policy\n";
  EXPECT_THAT(BashComplete({"apply", "-f", tmp_.Sub("pol")}), ElementsAre(tmp_.Sub("policy.yaml")));
  StartFleetd();
  ApplyPolicy("linux-servers");
  std::vector<std::string> words = FleetdFlags();
  words.insert(words.end(), {"describe", "policy", ""});
  EXPECT_THAT(BashComplete(words), ElementsAre("linux-servers"));
}

// The zsh and fish scripts parse in their shells (skipped where a shell is not installed).
TEST_F(FleetctlCompletionTest, ZshAndFishScriptsParse) {
  bool any = false;
  for (const auto& [shell, check] :
       std::vector<std::pair<std::string, std::string>>{{"zsh", "-n"}, {"fish", "--no-execute"}}) {
    std::optional<std::string> program = FindProgram(shell);
    if (!program.has_value()) continue;
    any = true;
    CommandResult script = Run({"completion", shell});
    ASSERT_EQ(script.exit_code, 0) << script.err;
    const std::string path = tmp_.Sub("completion." + shell);
    std::ofstream(path) << script.out;
    absl::StatusOr<CommandResult> parsed = testing::RunCommand({*program, check, path});
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->exit_code, 0) << shell << ": " << parsed->err;
    EXPECT_EQ(parsed->err, "") << shell;
  }
  if (!any) GTEST_SKIP() << "neither zsh nor fish is installed";
}

// `docs man DIR` writes a page per command that groff renders without a warning (or, without
// groff, pages that start as man pages do).
TEST_F(FleetctlCompletionTest, ManPagesRender) {
  const std::string dir = tmp_.Sub("man/man1");
  CommandResult written = Run({"docs", "man", dir});
  ASSERT_EQ(written.exit_code, 0) << written.err;
  std::vector<std::string> pages;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    pages.push_back(entry.path().filename().string());
  }
  EXPECT_THAT(pages, IsSupersetOf({"fleetctl.1", "fleetctl-get.1", "fleetctl-get-policies.1",
                                   "fleetctl-completion-bash.1", "fleetctl-docs-man.1"}));
  EXPECT_THAT(pages, Not(Contains("fleetctl-__complete.1")));
  const std::optional<std::string> groff = FindProgram("groff");
  for (const std::string& page : pages) {
    const std::string path = absl::StrCat(dir, "/", page);
    std::ifstream in(path);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(text.starts_with(".TH ")) << page;
    if (!groff.has_value()) continue;
    absl::StatusOr<CommandResult> rendered =
        testing::RunCommand({*groff, "-man", "-Tutf8", "-ww", "-z", path});
    ASSERT_TRUE(rendered.ok()) << rendered.status();
    EXPECT_EQ(rendered->exit_code, 0) << page;
    EXPECT_EQ(rendered->err, "") << page;
  }
}

}  // namespace
}  // namespace fleet
