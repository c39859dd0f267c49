// End-to-end: what an operator of a real fleetd sees. Its JSON log (every line an object; the
// audit line of an apply; a failed login; enrollments, a spent token's refusal and an agent's
// connect; never a secret), its configuration file and --print-config, and its readiness
// messages to systemd.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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
using testing::FleetdOptions;
using testing::FleetdProcess;
using testing::TempDir;

constexpr char kPolicyYaml[] = R"(kind: Policy
metadata:
  name: linux
spec:
  logs: {level: info}
)";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void WriteFile(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// The lines of `log` whose "msg" is `message`.
std::vector<nlohmann::json> WithMessage(const std::vector<nlohmann::json>& log,
                                        const std::string& message) {
  std::vector<nlohmann::json> found;
  for (const nlohmann::json& line : log) {
    if (line.value("msg", "") == message) found.push_back(line);
  }
  return found;
}

class OperationsE2eTest : public ::testing::Test {
 protected:
  CommandResult Fleetctl(const std::vector<std::string>& args, const std::string& token_file = "",
                         const std::optional<std::string>& input = std::nullopt) {
    return testing::RunFleetctl(FLEETCTL_BIN, *fleetd_, tmp_.Sub("config"), args, token_file,
                                input);
  }

  TempDir tmp_;
  std::unique_ptr<FleetdProcess> fleetd_;
};

// A demo's worth of operations, read back from fleetd's --log-format json output.
TEST_F(OperationsE2eTest, JsonLogHasAuditLinesAndNoSecrets) {
  const std::string log_path = tmp_.Sub("fleetd.log");
  ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FleetdOptions{
                                    .binary = FLEETD_BIN,
                                    .data_dir = tmp_.Sub("data"),
                                    .extra_flags = {"--log-format", "json", "--log-level", "debug"},
                                    .log_path = log_path}));
  const std::string admin_token = ReadFile(fleetd_->bootstrap_token_file());
  ASSERT_GT(admin_token.size(), 18u);
  const std::string admin_secret = admin_token.substr(18, 64);

  ASSERT_EQ(Fleetctl({"apply", "-f", "-"}, "", std::string(kPolicyYaml)).exit_code, 0);
  // A failed login: the right token id with a wrong secret.
  std::string wrong = admin_token;
  wrong[20] = wrong[20] == '0' ? '1' : '0';
  WriteFile(tmp_.Sub("wrong.token"), wrong);
  EXPECT_NE(Fleetctl({"get", "policies"}, tmp_.Sub("wrong.token")).exit_code, 0);
  // A token for one agent, and a second agent that finds it spent.
  CommandResult token =
      Fleetctl({"token", "create", "--policy", "linux", "--max-uses", "1", "-o", "json"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  const nlohmann::json created = nlohmann::json::parse(token.out);
  const std::string enrollment_token = created["secret"];
  v1::EnrollResponse first, second;
  ASSERT_TRUE(
      testing::EnrollAgent(fleetd_->agent_address(), enrollment_token, "web-1", &first).ok());
  EXPECT_EQ(testing::EnrollAgent(fleetd_->agent_address(), enrollment_token, "web-2", &second)
                .error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  {
    testing::TestAgent agent(fleetd_->agent_address(), first);
    ASSERT_TRUE(agent.Hello());
    ASSERT_TRUE(agent.NextUpdate().has_value());
  }
  ASSERT_OK(fleetd_->Stop());

  std::vector<nlohmann::json> log;
  std::istringstream lines(ReadFile(log_path));
  for (std::string line; std::getline(lines, line);) {
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(parsed.is_object()) << "not a JSON object: " << line;
    ASSERT_TRUE(parsed.contains("time") && parsed.contains("level") && parsed.contains("msg"))
        << line;
    EXPECT_TRUE((std::set<std::string>{"trace", "debug", "info", "warn", "error"})
                    .contains(parsed["level"].get<std::string>()))
        << line;
    log.push_back(std::move(parsed));
  }

  std::vector<nlohmann::json> audit = WithMessage(log, "admin mutation");
  const std::string admin_token_id = admin_token.substr(5, 12);
  bool saw_apply = false, saw_token = false;
  for (const nlohmann::json& line : audit) {
    EXPECT_EQ(line["level"], "info");
    EXPECT_EQ(line["actor_token_id"], admin_token_id);
    EXPECT_EQ(line["actor_role"], "admin");
    EXPECT_GT(line["revision"].get<int64_t>(), 0);
    if (line["rpc"] == "ApplyPolicy") {
      saw_apply = true;
      EXPECT_EQ(line["target"], "policy/linux");
      EXPECT_EQ(line["code"], "OK");
    }
    if (line["rpc"] == "CreateEnrollmentToken") {
      saw_token = true;
      EXPECT_EQ(line["target"],
                "enrollment-token/" + created["token"]["metadata"]["id"].get<std::string>());
    }
  }
  EXPECT_TRUE(saw_apply && saw_token) << audit.size() << " audit lines";
  std::vector<nlohmann::json> failed_logins = WithMessage(log, "admin authentication failed");
  ASSERT_EQ(failed_logins.size(), 1u);
  EXPECT_EQ(failed_logins[0]["level"], "warn");
  EXPECT_EQ(failed_logins[0]["reason"], "unknown or revoked admin token");
  std::vector<nlohmann::json> enrolled = WithMessage(log, "agent enrolled");
  ASSERT_EQ(enrolled.size(), 1u);
  EXPECT_EQ(enrolled[0]["agent_id"], first.agent_id());
  std::vector<nlohmann::json> refused = WithMessage(log, "enrollment refused");
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0]["code"], "RESOURCE_EXHAUSTED");
  EXPECT_EQ(refused[0]["hostname"], "web-2");
  std::vector<nlohmann::json> connected = WithMessage(log, "agent connected");
  ASSERT_EQ(connected.size(), 1u);
  EXPECT_EQ(connected[0]["level"], "debug");
  EXPECT_EQ(connected[0]["agent_id"], first.agent_id());

  const std::string text = ReadFile(log_path);
  for (const std::string& secret :
       {admin_secret, wrong.substr(18, 64),
        enrollment_token.substr(enrollment_token.rfind('_') + 1), first.agent_secret()}) {
    EXPECT_FALSE(absl::StrContains(text, secret)) << "a secret is in the log";
  }
}

// A configuration file sets fleetd's flags, the command line overrides it, and --print-config
// prints the result, which reads back as the same configuration.
TEST_F(OperationsE2eTest, ConfigFileAndPrintConfig) {
  const std::string config = tmp_.Sub("fleetd.yaml");
  WriteFile(config, "admin-addr: 127.0.0.1:0\npolicy-history: 7\nlog-level: warn\n");
  ASSERT_OK_AND_ASSIGN(CommandResult printed,
                       testing::RunCommand({FLEETD_BIN, "--config", config, "--log-level", "debug",
                                            "--print-config"}));
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_TRUE(absl::StrContains(printed.out, "policy-history: 7\n")) << printed.out;
  EXPECT_TRUE(absl::StrContains(printed.out, "log-level: debug\n")) << printed.out;
  EXPECT_TRUE(absl::StrContains(printed.out, "agent-addr: 127.0.0.1:8220\n")) << printed.out;

  WriteFile(tmp_.Sub("printed.yaml"), printed.out);
  ASSERT_OK_AND_ASSIGN(
      CommandResult again,
      testing::RunCommand({FLEETD_BIN, "--config", tmp_.Sub("printed.yaml"), "--print-config"}));
  EXPECT_EQ(again.out, printed.out);

  WriteFile(config, "admin-addr: 127.0.0.1:0\nagent-adr: 127.0.0.1:0\n");
  ASSERT_OK_AND_ASSIGN(CommandResult unknown,
                       testing::RunCommand({FLEETD_BIN, "--config", config}));
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(
      unknown.err, config + ":2: unknown key \"agent-adr\" (did you mean \"agent-addr\"?)"))
      << unknown.err;
}

// Startup errors (a bad flag, a configuration file error, a data dir in use) are lines of the
// log format too: one JSON object each with --log-format json.
TEST_F(OperationsE2eTest, StartupErrorsAreJsonLines) {
  const std::string config = tmp_.Sub("fleetd.yaml");
  WriteFile(config, "policy-history: many\n");
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {FLEETD_BIN, "--log-format", "json", "--no-such-flag"},
           {FLEETD_BIN, "--log-format=json", "--config", config},
           {FLEETD_BIN, "--log-format", "json", "--agent-addr", "localhost"}}) {
    ASSERT_OK_AND_ASSIGN(CommandResult result, testing::RunCommand(args));
    EXPECT_EQ(result.exit_code, 2) << result.err;
    ASSERT_FALSE(result.err.empty());
    EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << result.err;
    const nlohmann::json line = nlohmann::json::parse(result.err, nullptr, false);
    ASSERT_TRUE(line.is_object()) << result.err;
    EXPECT_EQ(line["level"], "error");
    EXPECT_FALSE(line["msg"].get<std::string>().empty());
  }
  ASSERT_OK_AND_ASSIGN(CommandResult from_file, testing::RunCommand({FLEETD_BIN, "--log-format",
                                                                     "json", "--config", config}));
  EXPECT_TRUE(absl::StrContains(from_file.err, config + ":1: policy-history: ")) << from_file.err;
}

// Under systemd (NOTIFY_SOCKET set), fleetd says READY=1 once it serves and STOPPING=1 when
// asked to stop.
TEST_F(OperationsE2eTest, NotifiesSystemd) {
  const std::string socket_path = tmp_.Sub("notify");
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)), 0)
      << std::strerror(errno);
  // The child inherits it; no other test of this binary runs fleetd at the same time.
  ASSERT_EQ(setenv("NOTIFY_SOCKET", socket_path.c_str(), 1), 0);
  absl::StatusOr<std::unique_ptr<FleetdProcess>> started =
      FleetdProcess::Start(FLEETD_BIN, tmp_.Sub("data"));
  unsetenv("NOTIFY_SOCKET");
  ASSERT_OK(started);
  fleetd_ = *std::move(started);
  // fleetd printed its listening line after sending READY=1: the datagram is there.
  char buffer[64];
  ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
  ASSERT_GT(n, 0) << std::strerror(errno);
  EXPECT_EQ(std::string(buffer, static_cast<size_t>(n)), "READY=1");
  ASSERT_OK(fleetd_->Stop());
  n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
  ASSERT_GT(n, 0) << std::strerror(errno);
  EXPECT_EQ(std::string(buffer, static_cast<size_t>(n)), "STOPPING=1");
  close(fd);
}

}  // namespace
}  // namespace fleet
