// The completion logic (cli/completion.h) on a command tree shaped like fleetctl's, with a fake
// in place of fleetd: what each kind of word completes to, and when fleetd is asked.
#include "cli/completion.h"

#include <map>
#include <string>
#include <vector>

#include "cli/resource_json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class FakeSource : public DynamicSource {
 public:
  std::vector<Candidate> List(Dynamic kind, const GlobalOptions& globals) override {
    asked.push_back(kind);
    last_globals = globals;
    return lists[kind];
  }

  std::map<Dynamic, std::vector<Candidate>> lists;
  std::vector<Dynamic> asked;
  GlobalOptions last_globals;
};

class CompletionTest : public ::testing::Test {
 protected:
  CompletionTest() {
    app_.set_version_flag("--version", "fleetctl 1.0");
    AddGlobalOptions(app_, &globals_);
    CLI::App* get = app_.add_subcommand("get", "List resources. Or show one.");
    CLI::App* policies = get->add_subcommand("policies", "List policies.");
    policies->alias("policy");
    policies->add_option("NAME", name_, "A policy's name.");
    policies->add_option("--revision", revision_, "A revision.");
    CLI::App* agents = get->add_subcommand("agents", "List agents.");
    agents->add_option("ID", name_, "An agent's id.");
    agents->add_option("--status", status_, "A status.")
        ->transform(CLI::CheckedTransformer(AgentStatusesByName()).description(""));
    agents->add_option("--selector,-l", words_, "A selector.");
    app_.add_subcommand("describe", "Show one resource.")
        ->add_subcommand("agent", "Show an agent.")
        ->add_option("ID", name_, "The agent's id.");
    CLI::App* agent = app_.add_subcommand("agent", "Change agents.");
    CLI::App* reassign = agent->add_subcommand("reassign", "Move an agent.");
    reassign->add_option("ID", name_, "The id.");
    reassign->add_option("--policy", name_, "The policy.");
    CLI::App* label = agent->add_subcommand("label", "Label an agent.");
    label->add_option("ID", name_, "The id.");
    label->add_option("LABELS", words_, "k=v.");
    app_.add_subcommand("policy", "Revisions.")
        ->add_subcommand("history", "History.")
        ->add_option("NAME", name_, "The name.");
    app_.add_subcommand("rollout", "Rollouts.")
        ->add_subcommand("status", "Status.")
        ->add_option("POLICY", name_, "The name.");
    app_.add_subcommand("token", "Tokens.")
        ->add_subcommand("revoke", "Revoke.")
        ->add_option("ID", name_, "The id.");
    app_.add_subcommand("config", "Contexts.")
        ->add_subcommand("use-context", "Use one.")
        ->add_option("NAME", name_, "The name.");
    app_.add_subcommand("admin-token", "Admin tokens.")
        ->add_subcommand("create", "Create one.")
        ->add_option("--role", role_, "The role.")
        ->transform(CLI::CheckedTransformer(RolesByName()).description(""));
    app_.add_subcommand("apply", "Apply.")
        ->add_option("-f,--filename", name_, "The file.")
        ->type_name("FILE");
    app_.add_subcommand("paint", "An enum that lists its values in its type name.")
        ->add_option("--color", name_, "A color.")
        ->type_name("red|green|blue")
        ->check(CLI::IsMember({"red", "green"}).description(""));
    app_.get_subcommand("describe")
        ->add_subcommand("action", "Show an action.")
        ->add_option("ID", name_, "The action's id.");
    CLI::App* action = app_.add_subcommand("action", "Actions.");
    action->add_subcommand("cancel", "Cancel one.")->add_option("ID", name_, "The id.");
    action->add_subcommand("status", "Its status.")->add_option("ID", name_, "The id.");
    CLI::App* query = app_.add_subcommand("query", "A live query.");
    query->add_option("TEXT", name_, "The query.");
    query->add_option("--agent", words_, "An agent.")->type_name("ID");
    app_.add_subcommand("help", "Help of a command.")->prefix_command()->allow_extras();
    app_.add_subcommand("__complete", "Hidden.")->group("");
    source_.lists[Dynamic::kPolicies] = {
        {"linux-servers", "servers"}, {"laptops", ""}, {"web", "web servers"}};
    source_.lists[Dynamic::kAgents] = {{"0a1b", "host-a"}, {"9f8e", "host-b"}};
    source_.lists[Dynamic::kEnrollmentTokens] = {{"aaa111", "web"}};
    source_.lists[Dynamic::kActions] = {{"3f9c2a7b1e04", "upgrade, active"},
                                        {"0123456789ab", "restart, done"}};
    source_.lists[Dynamic::kContexts] = {{"prod", "fleetd.example.com:8221"}, {"dev", ""}};
  }

  // The values completing the last of `words`.
  std::vector<std::string> Values(const std::vector<std::string>& words) {
    std::vector<std::string> values;
    for (const Candidate& candidate : Complete(app_, words, globals_, source_).candidates) {
      values.push_back(candidate.value);
    }
    return values;
  }

  CLI::App app_{"fleetctl", "fleetctl"};
  GlobalOptions globals_;
  std::string name_;
  int revision_ = 0;
  v1::AgentStatus status_ = v1::AGENT_STATUS_UNSPECIFIED;
  v1::Role role_ = v1::ROLE_UNSPECIFIED;
  std::vector<std::string> words_;
  FakeSource source_;
};

// An empty word at the top offers every command but hidden ones, and asks fleetd nothing.
TEST_F(CompletionTest, TopLevelOffersVisibleCommands) {
  EXPECT_THAT(Values({""}),
              ElementsAre("get", "describe", "agent", "policy", "rollout", "token", "config",
                          "admin-token", "apply", "paint", "action", "query", "help"));
  EXPECT_THAT(source_.asked, IsEmpty());
}

// A prefix narrows the commands, at any depth; an alias is accepted but not offered.
TEST_F(CompletionTest, PrefixNarrowsSubcommands) {
  EXPECT_THAT(Values({"ge"}), ElementsAre("get"));
  EXPECT_THAT(Values({"get", "po"}), ElementsAre("policies"));
  EXPECT_THAT(Values({"get", "x"}), IsEmpty());
}

// Subcommands carry the first sentence of their description.
TEST_F(CompletionTest, SubcommandsCarryTheirFirstSentence) {
  Completion completion = Complete(app_, {"g"}, globals_, source_);
  EXPECT_THAT(completion.candidates, ElementsAre(Candidate{"get", "List resources"}));
}

// help's words are a command path: each completes the commands below the previous ones.
TEST_F(CompletionTest, HelpCompletesCommandPaths) {
  EXPECT_THAT(Values({"help", "ge"}), ElementsAre("get"));
  EXPECT_THAT(Values({"help", "get", "a"}), ElementsAre("agents"));
  EXPECT_THAT(Values({"help", "get", "agents", ""}), IsEmpty());
  EXPECT_THAT(Values({"help", "nope", ""}), IsEmpty());
}

// A command's NAME completes to the policy names fleetd knows that start with the word, by the
// command's name or alias, or its group's name.
TEST_F(CompletionTest, PolicyNamesFromTheServer) {
  EXPECT_THAT(Values({"get", "policies", ""}), ElementsAre("linux-servers", "laptops", "web"));
  EXPECT_THAT(Values({"get", "policy", "l"}), ElementsAre("linux-servers", "laptops"));
  EXPECT_THAT(Values({"policy", "history", "w"}), ElementsAre("web"));
  EXPECT_THAT(Values({"rollout", "status", "li"}), ElementsAre("linux-servers"));
  EXPECT_THAT(Values({"agent", "reassign", "0a1b", "--policy", "la"}), ElementsAre("laptops"));
  EXPECT_THAT(source_.asked, ElementsAre(Dynamic::kPolicies, Dynamic::kPolicies, Dynamic::kPolicies,
                                         Dynamic::kPolicies, Dynamic::kPolicies));
}

// Agent ids, enrollment token ids and context names, each where its command takes one.
TEST_F(CompletionTest, OtherResourcesFromTheirSources) {
  EXPECT_THAT(Values({"describe", "agent", ""}), ElementsAre("0a1b", "9f8e"));
  EXPECT_THAT(Values({"agent", "reassign", "9"}), ElementsAre("9f8e"));
  EXPECT_THAT(Values({"token", "revoke", ""}), ElementsAre("aaa111"));
  EXPECT_THAT(Values({"config", "use-context", ""}), ElementsAre("prod", "dev"));
  EXPECT_THAT(Values({"--context", "p"}), ElementsAre("prod"));
}

// Action ids complete for describe action, action cancel and action status, from fleetd's list
// with each action's type and state; --agent completes agent ids; a query's TEXT completes to
// nothing.
TEST_F(CompletionTest, ActionIdsAndQueryTargets) {
  EXPECT_THAT(Values({"describe", "action", ""}), ElementsAre("3f9c2a7b1e04", "0123456789ab"));
  EXPECT_THAT(Values({"action", "cancel", "3f"}), ElementsAre("3f9c2a7b1e04"));
  EXPECT_THAT(Values({"action", "status", "0"}), ElementsAre("0123456789ab"));
  const Completion described = Complete(app_, {"describe", "action", "3"}, globals_, source_);
  ASSERT_EQ(described.candidates.size(), 1u);
  EXPECT_EQ(described.candidates[0].description, "upgrade, active");
  EXPECT_THAT(Values({"query", "SELECT 1", "--agent", ""}), ElementsAre("0a1b", "9f8e"));
  source_.asked.clear();
  EXPECT_THAT(Values({"query", ""}), IsEmpty());
  EXPECT_THAT(source_.asked, IsEmpty());
}

// A positional that names no resource (agent label's LABELS), or one past the last, completes to
// nothing, and fleetd is not asked.
TEST_F(CompletionTest, OtherPositionalsCompleteToNothing) {
  EXPECT_THAT(Values({"agent", "label", "0a1b", ""}), IsEmpty());
  EXPECT_THAT(Values({"get", "policies", "web", ""}), IsEmpty());
  EXPECT_THAT(source_.asked, IsEmpty());
}

// A word starting with "-" completes the command's flags and the global ones.
TEST_F(CompletionTest, FlagsOfTheCommandAndGlobal) {
  EXPECT_THAT(Values({"get", "policies", "--rev"}), ElementsAre("--revision"));
  EXPECT_THAT(Values({"get", "policies", "--con"}), ElementsAre("--context"));
  EXPECT_THAT(Values({"get", "agents", "-"}),
              ::testing::IsSupersetOf(
                  {"--status", "-l", "--selector", "--address", "-o", "--output", "--help"}));
  EXPECT_THAT(Values({"get", "--v"}), IsEmpty());
  EXPECT_THAT(Values({"--v"}), ElementsAre("--version"));
  EXPECT_THAT(source_.asked, IsEmpty());
}

// Enum flags complete to the values their parser accepts: the table, json and yaml of -o (and
// not the candidates the parser refuses), agent statuses, roles; also after "--flag=".
TEST_F(CompletionTest, EnumValuesAsTheParserAcceptsThem) {
  std::vector<std::string> formats = Values({"get", "policies", "-o", ""});
  EXPECT_THAT(formats, ::testing::IsSupersetOf({"table", "json", "yaml"}));
  for (const std::string& format : formats) {
    CLI::App parser;
    GlobalOptions parsed;
    AddGlobalOptions(parser, &parsed);
    EXPECT_NO_THROW(parser.parse(std::vector<std::string>{format, "-o"})) << format;
  }
  EXPECT_THAT(Values({"get", "agents", "--status", ""}), UnorderedElementsAre("online", "offline"));
  EXPECT_THAT(Values({"admin-token", "create", "--role", "o"}), ElementsAre("operator"));
  EXPECT_THAT(Values({"get", "policies", "--output=j"}), ElementsAre("--output=json"));
  // Any flag whose type name lists values, less those its validator refuses.
  EXPECT_THAT(Values({"paint", "--color", ""}), ElementsAre("red", "green"));
}

// bash splits "-o=j" into "-o", "=", "j": the "=" is skipped.
TEST_F(CompletionTest, BashSplitEqualsIsSkipped) {
  EXPECT_THAT(Values({"get", "policies", "--output", "=", "y"}), ElementsAre("yaml"));
}

// A flag's value is not taken for a subcommand or a positional: after "--policy web" the next
// word is the ID again.
TEST_F(CompletionTest, FlagValuesAreSkipped) {
  EXPECT_THAT(Values({"agent", "reassign", "--policy", "web", ""}), ElementsAre("0a1b", "9f8e"));
  EXPECT_THAT(Values({"-o", "json", "get", "po"}), ElementsAre("policies"));
  EXPECT_THAT(Values({"get", "agents", "-ojson", "--status", "on"}), ElementsAre("online"));
}

// A FILE value asks the shell for file names.
TEST_F(CompletionTest, FileValuesAskForFiles) {
  EXPECT_TRUE(Complete(app_, {"apply", "-f", ""}, globals_, source_).files);
  EXPECT_TRUE(Complete(app_, {"--token-file", "x"}, globals_, source_).files);
  EXPECT_FALSE(Complete(app_, {"apply", ""}, globals_, source_).files);
}

// The global flags typed before the word reach the source (to ask the right fleetd), over those
// parsed before __complete.
TEST_F(CompletionTest, TypedGlobalFlagsReachTheSource) {
  globals_.address = "127.0.0.1:1";
  globals_.token_file = "/parsed";
  Values({"--context", "prod", "get", "--address=127.0.0.1:2", "policies", ""});
  EXPECT_EQ(source_.last_globals.context, "prod");
  EXPECT_EQ(source_.last_globals.address, "127.0.0.1:2");
  EXPECT_EQ(source_.last_globals.token_file, "/parsed");
}

// After "--", a word starting with "-" is a positional, not a flag.
TEST_F(CompletionTest, DoubleDashEndsFlags) {
  EXPECT_THAT(Values({"get", "policies", "--", "-"}), IsEmpty());
  EXPECT_THAT(source_.asked, ElementsAre(Dynamic::kPolicies));
}

// Every positional NAME or ID of the tree names a resource; --policy and --context too.
TEST_F(CompletionTest, SourceForNamesTheResource) {
  CLI::App* policies = app_.get_subcommand("get")->get_subcommand("policies");
  EXPECT_EQ(SourceFor(*policies, *policies->get_option("NAME")).dynamic, Dynamic::kPolicies);
  CLI::App* label = app_.get_subcommand("agent")->get_subcommand("label");
  EXPECT_EQ(SourceFor(*label, *label->get_option("ID")).dynamic, Dynamic::kAgents);
  EXPECT_EQ(SourceFor(*label, *label->get_option("LABELS")).dynamic, Dynamic::kNone);
  EXPECT_EQ(SourceFor(app_, *app_.get_option("--context")).dynamic, Dynamic::kContexts);
}

// The printed form: value and description split by a tab, control characters kept out of both
// fields (a value holding one is dropped), and ":files" alone when files are wanted.
TEST(FormatCompletionTest, OneLinePerCandidate) {
  EXPECT_EQ(FormatCompletion({.candidates = {{"get", "List"},
                                             {"web", "line1\nline2\tx"},
                                             {"bad\tvalue", ""},
                                             {"plain", ""}}}),
            "get\tList\nweb\tline1 line2 x\nplain\n");
  EXPECT_EQ(FormatCompletion({.candidates = {{"x", ""}}, .files = true}), ":files\n");
  EXPECT_EQ(FormatCompletion({}), "");
}

// A long description is cut at a word, for the shell's menu.
TEST(FormatCompletionTest, LongDescriptionsAreCut) {
  const std::string words(20, 'w');
  const std::string line =
      FormatCompletion({.candidates = {{"x", words + " " + words + " " + words + " " + words}}});
  EXPECT_EQ(line, "x\t" + words + " " + words + " " + words + "...\n");
}

// A description's first sentence, without its period.
TEST(FirstSentenceTest, UpToPeriodOrNewline) {
  EXPECT_EQ(FirstSentence("List agents. Or one."), "List agents");
  EXPECT_EQ(FirstSentence("Line one\nline two"), "Line one");
  EXPECT_EQ(FirstSentence("Version 1.2 of it."), "Version 1.2 of it");
  EXPECT_EQ(FirstSentence(""), "");
}

}  // namespace
}  // namespace fleet::cli
