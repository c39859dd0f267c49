#include "agent-sim/sim_flags.h"

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet::agent {
namespace {

// Parses `args` (without the program name) as agent-sim would; the parse error's text, or "".
std::string Parse(std::vector<std::string> args, SimFlags& flags) {
  CLI::App app;
  AddSimFlags(app, flags);
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

// Every flag lands in its field; defaults hold for the flags left out.
TEST(SimFlagsTest, ParsesEveryFlag) {
  SimFlags flags;
  ASSERT_EQ(Parse({"--server", "127.0.0.1:8220", "--enroll-token-file", "t", "--agents", "200",
                   "--connections", "10", "--duration", "30s", "--nack-rate", "0.25", "--report",
                   "r.json"},
                  flags),
            "");
  EXPECT_EQ(flags.server, "127.0.0.1:8220");
  EXPECT_EQ(flags.enroll_token_file, "t");
  EXPECT_EQ(flags.agents, 200);
  EXPECT_EQ(flags.connections, 10);
  EXPECT_EQ(flags.duration, "30s");
  EXPECT_DOUBLE_EQ(flags.nack_rate, 0.25);
  EXPECT_EQ(flags.report, "r.json");
  EXPECT_EQ(flags.state_dir, "agent-sim-state");
}

// --hostname-prefix names the agents; each --label adds one, and one that is not KEY=VALUE
// names the flag.
TEST(SimFlagsTest, HostnamePrefixAndLabels) {
  SimFlags flags;
  ASSERT_EQ(Parse({"--server", "127.0.0.1:8220", "--enroll-token-file", "t", "--agents", "2",
                   "--hostname-prefix", "canary-", "--label", "ring=canary", "--label", "zone=a=1"},
                  flags),
            "");
  ASSERT_OK_AND_ASSIGN(SimulatorOptions options, SimulatorOptionsFrom(flags, "fenr_x"));
  EXPECT_EQ(options.hostname_prefix, "canary-");
  EXPECT_EQ(options.labels,
            (std::map<std::string, std::string>{{"ring", "canary"}, {"zone", "a=1"}}));
  SimFlags defaults;
  ASSERT_EQ(Parse({"--server", "s:1", "--enroll-token-file", "t", "--agents", "1"}, defaults), "");
  ASSERT_OK_AND_ASSIGN(SimulatorOptions plain, SimulatorOptionsFrom(defaults, "fenr_x"));
  EXPECT_EQ(plain.hostname_prefix, "sim-");
  EXPECT_TRUE(plain.labels.empty());
  for (const char* bad : {"ring", "=canary"}) {
    SimFlags bad_flags;
    ASSERT_EQ(
        Parse({"--server", "s:1", "--enroll-token-file", "t", "--agents", "1", "--label", bad},
              bad_flags),
        "");
    absl::StatusOr<SimulatorOptions> refused = SimulatorOptionsFrom(bad_flags, "fenr_x");
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(refused.status().message().find("--label"), std::string::npos) << bad;
  }
}

// The required flags are required.
TEST(SimFlagsTest, RequiredFlagsAreNamed) {
  SimFlags flags;
  EXPECT_NE(Parse({"--agents", "2", "--enroll-token-file", "t"}, flags).find("--server"),
            std::string::npos);
}

// Go-like durations parse; anything else names --duration.
TEST(SimFlagsTest, RunDuration) {
  ASSERT_OK_AND_ASSIGN(std::optional<absl::Duration> none, ParseRunDuration(""));
  EXPECT_FALSE(none.has_value());
  ASSERT_OK_AND_ASSIGN(std::optional<absl::Duration> five_minutes, ParseRunDuration("5m"));
  EXPECT_EQ(five_minutes, absl::Minutes(5));
  ASSERT_OK_AND_ASSIGN(std::optional<absl::Duration> mixed, ParseRunDuration("1h30m"));
  EXPECT_EQ(mixed, absl::Minutes(90));
  for (const std::string bad : {"5", "5x", "-1s", "0s", "inf"}) {
    absl::StatusOr<std::optional<absl::Duration>> parsed = ParseRunDuration(bad);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(parsed.status().message().find("--duration"), std::string::npos);
  }
}

// Options out of range are refused naming the flag.
TEST(SimFlagsTest, OptionsOutOfRange) {
  SimFlags flags{.server = "127.0.0.1:1", .agents = 10};
  EXPECT_OK(SimulatorOptionsFrom(flags, "tok"));
  struct Case {
    SimFlags flags;
    std::string flag;
  };
  const std::vector<Case> cases = {
      {{.server = "127.0.0.1:1", .agents = 0}, "--agents"},
      {{.server = "127.0.0.1:1", .agents = 10, .connections = 11}, "--connections"},
      {{.server = "127.0.0.1:1", .agents = 10, .connections = -1}, "--connections"},
      {{.server = "127.0.0.1:1", .agents = 10, .nack_rate = 1.5}, "--nack-rate"},
      {{.agents = 10}, "--server"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<SimulatorOptions> options = SimulatorOptionsFrom(c.flags, "tok");
    EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument) << c.flag;
    EXPECT_NE(options.status().message().find(c.flag), std::string::npos)
        << options.status().message();
  }
}

// The action and query flags land in the options; their defaults hold when left out.
TEST(SimFlagsTest, ActionAndQueryFlags) {
  SimFlags defaults;
  ASSERT_EQ(
      Parse({"--server", "127.0.0.1:8220", "--enroll-token-file", "t", "--agents", "2"}, defaults),
      "");
  ASSERT_OK_AND_ASSIGN(SimulatorOptions by_default, SimulatorOptionsFrom(defaults, "tok"));
  EXPECT_EQ(by_default.behavior.action_duration, absl::Seconds(2));
  EXPECT_EQ(by_default.behavior.action_progress_steps, 3);
  EXPECT_EQ(by_default.behavior.action_failure_rate, 0.0);
  EXPECT_EQ(by_default.behavior.query_latency, absl::Milliseconds(50));
  EXPECT_EQ(by_default.behavior.query_error_rate, 0.0);
  EXPECT_EQ(by_default.behavior.query_rows, 1);

  SimFlags flags;
  ASSERT_EQ(
      Parse({"--server", "127.0.0.1:8220", "--enroll-token-file", "t", "--agents", "2",
             "--action-duration", "0", "--action-progress-steps", "5", "--action-failure-rate",
             "0.1", "--query-latency", "250ms", "--query-error-rate", "0.2", "--query-rows", "10"},
            flags),
      "");
  ASSERT_OK_AND_ASSIGN(SimulatorOptions options, SimulatorOptionsFrom(flags, "tok"));
  EXPECT_EQ(options.behavior.action_duration, absl::ZeroDuration());
  EXPECT_EQ(options.behavior.action_progress_steps, 5);
  EXPECT_DOUBLE_EQ(options.behavior.action_failure_rate, 0.1);
  EXPECT_EQ(options.behavior.query_latency, absl::Milliseconds(250));
  EXPECT_DOUBLE_EQ(options.behavior.query_error_rate, 0.2);
  EXPECT_EQ(options.behavior.query_rows, 10);

  // Not a number at all: CLI11 refuses it, naming the flag.
  SimFlags typo;
  EXPECT_NE(Parse({"--server", "s", "--enroll-token-file", "t", "--agents", "2",
                   "--action-progress-steps", "many"},
                  typo)
                .find("--action-progress-steps"),
            std::string::npos);
}

// Bad values of the action and query flags are refused naming the flag.
TEST(SimFlagsTest, ActionAndQueryFlagsOutOfRange) {
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  };
  const std::vector<Case> cases = {
      {{"--action-duration", "-1s"}, "--action-duration"},
      {{"--action-duration", "2"}, "--action-duration"},
      {{"--action-duration", "inf"}, "--action-duration"},
      {{"--action-progress-steps", "-1"}, "--action-progress-steps"},
      {{"--action-progress-steps", "101"}, "--action-progress-steps"},
      {{"--action-failure-rate", "1.5"}, "--action-failure-rate"},
      {{"--query-latency", "soon"}, "--query-latency"},
      {{"--query-error-rate", "-0.5"}, "--query-error-rate"},
      {{"--query-rows", "-3"}, "--query-rows"},
      {{"--query-rows", "2000000"}, "--query-rows"},
  };
  for (const Case& c : cases) {
    SimFlags flags;
    std::vector<std::string> args = {"--server", "127.0.0.1:1", "--enroll-token-file",
                                     "t",        "--agents",    "2"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    ASSERT_EQ(Parse(args, flags), "") << c.flag;
    absl::StatusOr<SimulatorOptions> options = SimulatorOptionsFrom(flags, "tok");
    EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument) << c.flag;
    EXPECT_NE(options.status().message().find(c.flag), std::string::npos)
        << options.status().message();
  }
}

// A delay takes zero; anything negative, infinite or not a duration names the flag.
TEST(SimFlagsTest, Delay) {
  ASSERT_OK_AND_ASSIGN(absl::Duration zero, ParseDelay("--query-latency", "0"));
  EXPECT_EQ(zero, absl::ZeroDuration());
  ASSERT_OK_AND_ASSIGN(absl::Duration ms, ParseDelay("--query-latency", "250ms"));
  EXPECT_EQ(ms, absl::Milliseconds(250));
  for (const std::string bad : {"", "5", "-1ms", "inf", "x"}) {
    const absl::Status status = ParseDelay("--query-latency", bad).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(status.message().find("--query-latency"), std::string::npos);
  }
}

// The token file is read without surrounding white space; missing or empty files are errors
// naming the file.
TEST(SimFlagsTest, TokenFile) {
  testing::TempDir tmp;
  std::ofstream(tmp.Sub("token")) << "  fenr_abc_def\n";
  ASSERT_OK_AND_ASSIGN(std::string token, ReadTokenFile(tmp.Sub("token")));
  EXPECT_EQ(token, "fenr_abc_def");
  std::ofstream(tmp.Sub("empty")) << "\n";
  EXPECT_EQ(ReadTokenFile(tmp.Sub("empty")).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<std::string> missing = ReadTokenFile(tmp.Sub("missing"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find(tmp.Sub("missing")), std::string::npos);
}

}  // namespace
}  // namespace fleet::agent
