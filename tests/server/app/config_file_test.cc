#include "server/app/config_file.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kExcluded[] = {"config"};
const ConfigKeys kKeys{.excluded = kExcluded};

// A command line like fleetd's: strings, a number with a check, a flag, a list, a choice.
struct TestFlags {
  std::string admin_addr = "127.0.0.1:8221";
  std::string store;
  int64_t policy_history = 100;
  bool insecure = false;
  std::vector<std::string> peers;
  std::string log_level = "info";
  std::string tls_cert;
  std::string config;
  CLI::App app{"test"};

  TestFlags() {
    app.set_version_flag("--version", "1");
    app.add_option("--admin-addr", admin_addr);
    app.add_option("--store", store);
    app.add_option("--policy-history", policy_history)->check(CLI::PositiveNumber);
    app.add_flag("--insecure-plaintext", insecure);
    app.add_option("--peer", peers);
    app.add_option("--log-level", log_level)->check(CLI::IsMember({"info", "debug"}));
    app.add_option("--tls-cert", tls_cert)->check(CLI::ExistingFile);
    app.add_option("--config", config);
  }

  void Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "test");
    std::vector<const char*> argv;
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    app.parse(static_cast<int>(argv.size()), argv.data());
  }

  absl::Status Apply(std::string_view yaml) {
    return ApplyConfigText(app, yaml, "fleetd.yaml", kKeys);
  }
};

// Every kind of key sets its option's variable.
TEST(ConfigFileTest, SetsEveryKind) {
  TestFlags flags;
  flags.Parse({});
  ASSERT_OK(flags.Apply(
      "admin-addr: 0.0.0.0:9000\nstore: 'memory:'\npolicy-history: 7\ninsecure-plaintext: true\n"
      "peer: [a, b]\nlog-level: debug\n"));
  EXPECT_EQ(flags.admin_addr, "0.0.0.0:9000");
  EXPECT_EQ(flags.store, "memory:");
  EXPECT_EQ(flags.policy_history, 7);
  EXPECT_TRUE(flags.insecure);
  EXPECT_EQ(flags.peers, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(flags.log_level, "debug");
}

// A flag on the command line beats the same key in the file; the file's other keys still apply.
TEST(ConfigFileTest, CommandLineOverridesTheFile) {
  TestFlags flags;
  flags.Parse({"--admin-addr", "10.0.0.1:1"});
  ASSERT_OK(flags.Apply("admin-addr: 0.0.0.0:9000\npolicy-history: 7\n"));
  EXPECT_EQ(flags.admin_addr, "10.0.0.1:1");
  EXPECT_EQ(flags.policy_history, 7);
}

// An unknown key names the file, its line and the key, and suggests the nearest one.
TEST(ConfigFileTest, UnknownKeyHasFileLineAndSuggestion) {
  TestFlags flags;
  flags.Parse({});
  absl::Status status = flags.Apply("# fleetd\nstore: 'memory:'\nadmin-adr: x\n");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "fleetd.yaml:3: unknown key \"admin-adr\" (did you mean \"admin-addr\"?)");
}

// A key far from all others gets no suggestion; --help, --version and excluded options are no
// keys.
TEST(ConfigFileTest, NoKeysForHelpVersionAndExcluded) {
  for (const char* yaml : {"zzzzzzzzzz: 1\n", "help: true\n", "version: true\n", "config: x\n"}) {
    TestFlags flags;
    flags.Parse({});
    absl::Status status = flags.Apply(yaml);
    EXPECT_THAT(status.message(), HasSubstr("fleetd.yaml:1: unknown key")) << yaml;
  }
  TestFlags flags;
  flags.Parse({});
  EXPECT_THAT(flags.Apply("zzzzzzzzzz: 1\n").message(), ::testing::Not(HasSubstr("did you mean")));
}

// Values of the wrong type fail with the value's line and the key.
TEST(ConfigFileTest, WrongTypesHaveTheLine) {
  struct Case {
    const char* yaml;
    const char* want;
  };
  for (const Case& c : {
           Case{"store: x\npolicy-history: many\n", "fleetd.yaml:2: policy-history: "},
           Case{"policy-history: -3\n", "fleetd.yaml:1: policy-history: "},
           Case{"insecure-plaintext: maybe\n", "fleetd.yaml:1: insecure-plaintext: "},
           Case{"log-level: loud\n", "fleetd.yaml:1: log-level: "},
           Case{"admin-addr:\n  host: x\n",
                "fleetd.yaml:2: admin-addr: takes one value, not a map"},
           Case{"admin-addr: [a, b]\n", "fleetd.yaml:1: admin-addr: takes one value, not a list"},
           Case{"admin-addr:\n", "fleetd.yaml:1: admin-addr: no value"},
           Case{"store: a\nstore: b\n", "fleetd.yaml:2: store is given twice"},
       }) {
    TestFlags flags;
    flags.Parse({});
    absl::Status status = flags.Apply(c.yaml);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_THAT(status.message(), HasSubstr(c.want)) << c.yaml;
  }
}

// YAML that does not parse, or is not a map, fails with a line; an empty file sets nothing.
TEST(ConfigFileTest, BadYamlAndEmptyFile) {
  TestFlags flags;
  flags.Parse({});
  EXPECT_THAT(flags.Apply("store: [unclosed\n").message(), HasSubstr("fleetd.yaml:"));
  EXPECT_THAT(flags.Apply("- a\n- b\n").message(), HasSubstr("fleetd.yaml:1: the configuration "
                                                             "must be a map"));
  EXPECT_OK(flags.Apply("# nothing\n"));
  EXPECT_EQ(flags.admin_addr, "127.0.0.1:8221");
}

// The printed configuration lists every key with its value, defaults included, and loading it
// into a fresh command line gives the same configuration.
TEST(ConfigFileTest, PrintRoundTrips) {
  TestFlags first;
  first.Parse({"--store", "memory:", "--peer", "a", "--peer", "b c", "--insecure-plaintext"});
  ASSERT_OK(first.Apply("policy-history: 9\n"));
  const std::string printed = EffectiveConfigYaml(first.app, kKeys);
  EXPECT_THAT(printed, HasSubstr("admin-addr: 127.0.0.1:8221\n"));
  EXPECT_THAT(printed, HasSubstr("policy-history: 9\n"));
  EXPECT_THAT(printed, HasSubstr("log-level: info\n"));
  // An unset file path prints empty, and reads back as unset past its "exists" check.
  EXPECT_THAT(printed, HasSubstr("tls-cert: \"\"\n"));
  EXPECT_THAT(printed, ::testing::Not(HasSubstr("config")));
  EXPECT_THAT(printed, ::testing::Not(HasSubstr("version")));

  TestFlags second;
  second.Parse({});
  SCOPED_TRACE(printed);
  ASSERT_OK(second.Apply(printed));
  EXPECT_EQ(second.admin_addr, first.admin_addr);
  EXPECT_EQ(second.store, "memory:");
  EXPECT_EQ(second.policy_history, 9);
  EXPECT_TRUE(second.insecure);
  EXPECT_EQ(second.peers, first.peers);
  EXPECT_EQ(second.tls_cert, "");
  EXPECT_EQ(EffectiveConfigYaml(second.app, kKeys), printed);
}

// A missing file is NOT_FOUND naming it.
TEST(ConfigFileTest, MissingFile) {
  TestFlags flags;
  flags.Parse({});
  absl::Status status = ApplyConfigFile(flags.app, "/nonexistent/fleetd.yaml", kKeys);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("/nonexistent/fleetd.yaml"));
}

}  // namespace
}  // namespace fleet::server
