// The command-line checks that run before CLI11 parses: the nearest name, unknown commands and
// flags at any depth, and CLI11's errors rewritten in the operator's words.
#include "cli/usage_errors.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/exit_codes.h"
#include "cli/flag_values.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::cli {
namespace {

// A misspelling an edit or two away (a swap of neighbours counts one) or a prefix finds its
// name; anything further, or one letter off a name of one or two, finds none.
TEST(NearestNameTest, FindsTyposAndPrefixes) {
  const std::vector<std::string> commands = {"get", "describe", "delete", "diff", "apply"};
  EXPECT_EQ(NearestName("gte", commands), "get");
  EXPECT_EQ(NearestName("descirbe", commands), "describe");
  EXPECT_EQ(NearestName("desc", commands), "describe");
  EXPECT_EQ(NearestName("frobnicate", commands), "");
  EXPECT_EQ(NearestName("--adress", {"--address", "--context", "-o"}), "--address");
  // One letter away from a short flag is not a suggestion.
  EXPECT_EQ(NearestName("-f", {"--address", "-o"}), "");
  EXPECT_EQ(NearestName("xyz", {"get"}), "");
}

class CommandTreeTest : public ::testing::Test {
 protected:
  CommandTreeTest() {
    app_.fallthrough();
    app_.add_option("--address", address_);
    CLI::App* get = app_.add_subcommand("get");
    CLI::App* policies = get->add_subcommand("policies");
    policies->add_option("NAME", name_);
    policies->add_flag("--watch", watch_);
    app_.add_subcommand("help")->prefix_command()->allow_extras();
  }

  absl::Status Check(const std::vector<std::string>& args) { return CheckCommandLine(app_, args); }

  CLI::App app_{"", "fleetctl"};
  std::string address_, name_;
  bool watch_ = false;
};

// Words that name commands, values of flags and a leaf's arguments pass; an unknown command or
// flag fails as a usage error naming the command it was typed for.
TEST_F(CommandTreeTest, UnknownCommandsAndFlags) {
  EXPECT_OK(Check({"--address", "gte", "get", "policies", "p", "--watch"}));
  EXPECT_OK(Check({"--address=x", "get", "policies", "--address", "x"}));
  EXPECT_OK(Check({"help", "gte", "--bogus"}));
  absl::Status status = Check({"get", "polices"});
  EXPECT_TRUE(IsUsageError(status));
  EXPECT_EQ(status.message(),
            "unknown command \"polices\" for \"fleetctl get\"; did you mean \"policies\"?");
  status = Check({"get", "policies", "--wacth"});
  EXPECT_EQ(status.message(),
            "unknown flag \"--wacth\" for \"fleetctl get policies\"; did you mean \"--watch\"?");
  // A flag of a command is not a flag of its parent.
  status = Check({"get", "--watch", "policies"});
  EXPECT_TRUE(IsUsageError(status));
}

// FindCommand follows the words of `help get policies`; an unknown word is an error.
TEST_F(CommandTreeTest, FindCommand) {
  ASSERT_OK_AND_ASSIGN(const CLI::App* found, FindCommand(app_, {"get", "policies"}));
  EXPECT_EQ(CommandPath(*found), "fleetctl get policies");
  EXPECT_TRUE(IsUsageError(FindCommand(app_, {"gte"}).status()));
}

// An enum flag takes names only, and its refusal reads as the operator's words.
TEST(DescribeParseErrorTest, NamedValuesRefuseNumbers) {
  CLI::App app{"", "fleetctl"};
  enum Role { kViewer = 1, kAdmin = 3 };
  Role role = kViewer;
  NamedValues(app.add_option("--role", role),
              std::map<std::string, Role>{{"admin", kAdmin}, {"viewer", kViewer}});
  std::vector<std::string> args = {"--role", "ADMIN"};
  std::reverse(args.begin(), args.end());
  app.parse(args);
  EXPECT_EQ(role, kAdmin);
  args = {"1", "--role"};
  try {
    app.parse(args);
    ADD_FAILURE() << "--role 1 parsed";
  } catch (const CLI::ParseError& e) {
    EXPECT_EQ(DescribeParseError(e, app), "invalid --role \"1\": want admin or viewer");
  }
}

}  // namespace
}  // namespace fleet::cli
