// Manual pages from a command tree (cli/man_page.h): one per visible command, each with the
// sections man(7) expects, and text that cannot turn into roff requests.
#include "cli/man_page.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class ManPageTest : public ::testing::Test {
 protected:
  ManPageTest() {
    app_.add_option("--address", value_, "fleetd's HOST:PORT.")->type_name("HOST:PORT");
    CLI::App* get = app_.add_subcommand("get", "List resources. Or show one.");
    CLI::App* policies = get->add_subcommand("policies", "List policies.\n\n.Second paragraph.");
    policies->alias("policy");
    policies->add_option("NAME", value_, "A policy's name.");
    policies->add_option("--revision", number_, "A C:\\path revision.\n  1  the first");
    app_.add_subcommand("__complete", "Hidden.")->group("");
    // After the subcommands, as fleetctl's main does, so that they do not copy it.
    app_.footer("Exit codes:\n  0  ok\n");
  }

  std::string PageOf(const std::string& file_name) {
    for (const ManPage& page : ManPages(app_, "fleetctl 1.0")) {
      if (page.file_name == file_name) return page.roff;
    }
    ADD_FAILURE() << "no page " << file_name;
    return "";
  }

  CLI::App app_{"fleetctl controls fleetd.", "fleetctl"};
  std::string value_;
  int number_ = 0;
};

// One page per visible command, parents first; none for a hidden command.
TEST_F(ManPageTest, OnePagePerVisibleCommand) {
  std::vector<std::string> names;
  for (const ManPage& page : ManPages(app_, "v")) names.push_back(page.file_name);
  EXPECT_THAT(names, ElementsAre("fleetctl.1", "fleetctl-get.1", "fleetctl-get-policies.1"));
}

// A leaf command's page: title, name line, synopsis with its positional, the description's
// paragraphs, aliases, arguments, its flags and the global ones, and its parent.
TEST_F(ManPageTest, LeafPageHasEverySection) {
  const std::string page = PageOf("fleetctl-get-policies.1");
  EXPECT_THAT(page, HasSubstr(".TH \"FLEETCTL\\-GET\\-POLICIES\" \"1\" \"\" \"fleetctl 1.0\""));
  EXPECT_THAT(page, HasSubstr(".SH NAME\nfleetctl\\-get\\-policies \\- List policies\n"));
  EXPECT_THAT(page, HasSubstr(".SH SYNOPSIS\n\\fBfleetctl get policies\\fR [\\fIFLAGS\\fR] "
                              "[\\fINAME\\fR]\n"));
  EXPECT_THAT(page, HasSubstr("List policies.\n.PP\n\\&.Second paragraph.\n"));
  EXPECT_THAT(page, HasSubstr("Also called: policy."));
  EXPECT_THAT(page, HasSubstr(".SH ARGUMENTS\n.TP\n[\\fINAME\\fR]\nA policy's name.\n"));
  EXPECT_THAT(page, HasSubstr(".SH FLAGS\n"));
  EXPECT_THAT(page, HasSubstr("\\fB\\-\\-revision\\fR \\fIINT\\fR\nA C:\\epath revision.\n.br\n"
                              "  1  the first\n"));
  EXPECT_THAT(page, HasSubstr(".SH GLOBAL FLAGS\n.TP\n\\fB\\-\\-address\\fR \\fIHOST:PORT\\fR\n"));
  EXPECT_THAT(page, HasSubstr(".SH SEE ALSO\n\\fBfleetctl\\-get\\fR(1)\n"));
  EXPECT_THAT(page, Not(HasSubstr(".SH NOTES")));
}

// The top page lists its commands with their pages, keeps the footer's layout under NOTES, and
// has no GLOBAL FLAGS section (its flags are the global ones).
TEST_F(ManPageTest, TopPageListsCommandsAndFooter) {
  const std::string page = PageOf("fleetctl.1");
  EXPECT_THAT(page, HasSubstr(".SH SYNOPSIS\n\\fBfleetctl\\fR \\fICOMMAND\\fR [\\fIFLAGS\\fR]\n"));
  EXPECT_THAT(page, HasSubstr(".SH COMMANDS\n.TP\n\\fBget\\fR\nList resources. See "
                              "\\fBfleetctl\\-get\\fR(1).\n"));
  EXPECT_THAT(page, HasSubstr(".SH NOTES\n.nf\nExit codes:\n  0  ok\n.fi\n"));
  EXPECT_THAT(page, Not(HasSubstr("GLOBAL FLAGS")));
  EXPECT_THAT(page, Not(HasSubstr("__complete")));
}

// Backslashes and line-leading dots or quotes cannot become roff escapes or requests.
TEST(RoffEscapeTest, EscapesRequestsAndBackslashes) {
  EXPECT_EQ(RoffEscape("a\\b"), "a\\eb");
  EXPECT_EQ(RoffEscape(".TH x\n'br\nok. fine"), "\\&.TH x\n\\&'br\nok. fine");
}

}  // namespace
}  // namespace fleet::cli
