// End-to-end: the real fleetd and fleetctl binaries, on port 0 and a temp data dir.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "fleet/v1/admin.grpc.pb.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"

namespace fleet::server {
namespace {

using ::fleet::testing::CommandResult;
using ::fleet::testing::ExitCode;
using ::fleet::testing::FleetdProcess;
using ::fleet::testing::RunCommand;
using ::fleet::testing::Subprocess;
using ::fleet::testing::TempDir;

// Runs fleetctl with its own empty config home, so that no operator's config leaks in.
absl::StatusOr<CommandResult> Fleetctl(std::vector<std::string> args,
                                       std::vector<std::string> env = {}) {
  static TempDir* const config_home = new TempDir();
  args.insert(args.begin(), FLEETCTL_BIN);
  env.push_back("XDG_CONFIG_HOME=" + config_home->path());
  return RunCommand(args, env, std::nullopt, absl::Seconds(30));
}

// A well-formed admin token no server knows, for talking to things that are not fleetd.
std::string UnknownTokenFile(const TempDir& dir) {
  std::string path = dir.Sub("unknown.token");
  std::ofstream(path) << "fadm_000000000000_" << std::string(64, '0') << "\n";
  return path;
}

grpc::health::v1::HealthCheckResponse::ServingStatus CheckHealth(const std::string& address) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, grpc::health::v1::HealthCheckRequest(), &response);
  EXPECT_TRUE(status.ok()) << address << ": " << status.error_message();
  return response.status();
}

// A socket on 127.0.0.1 that holds a port: listening when `listen_too`, else merely bound (so
// that connections to it are refused). Closed on destruction.
class HeldPort {
 public:
  explicit HeldPort(bool listen_too) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        (listen_too && listen(fd_, 16) != 0) ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot hold a port";
    }
    port_ = ntohs(addr.sin_port);
  }
  ~HeldPort() { close(fd_); }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class FleetdE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FLEETD_BIN, data_dir_));
  }

  // Sends `signal` and expects a clean exit: "fleetd stopped cleanly", exit code 0.
  void StopWith(int signal) {
    fleetd_->process().Signal(signal);
    EXPECT_TRUE(fleetd_->process().WaitForStderr("fleetd stopped cleanly", absl::Seconds(30)))
        << "no clean stop after signal " << signal;
    EXPECT_EQ(ExitCode(fleetd_->process().Wait(absl::Seconds(30))), 0);
  }

  TempDir tmp_;
  const std::string data_dir_ = tmp_.Sub("data");
  std::unique_ptr<FleetdProcess> fleetd_;
};

// A request whose string is not UTF-8 is INVALID_ARGUMENT naming the request type on both ports
// (ApplyPolicy, Enroll), not gRPC's INTERNAL with an empty message.
TEST_F(FleetdE2eTest, RequestsThatDoNotParseAreInvalidArgument) {
  const auto deadline = absl::ToChronoTime(absl::Now() + absl::Seconds(30));
  auto admin = v1::AdminService::NewStub(
      grpc::CreateChannel(fleetd_->admin_address(), grpc::InsecureChannelCredentials()));
  v1::ApplyPolicyRequest apply;
  apply.set_name("web\xff");
  apply.set_spec_json("{}");
  grpc::ClientContext apply_context;
  apply_context.set_deadline(deadline);
  v1::ApplyPolicyResponse applied;
  const grpc::Status refused = admin->ApplyPolicy(&apply_context, apply, &applied);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << refused.error_message();
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "fleet.v1.ApplyPolicyRequest"))
      << refused.error_message();

  auto agent = v1::AgentService::NewStub(
      grpc::CreateChannel(fleetd_->agent_address(), grpc::InsecureChannelCredentials()));
  v1::EnrollRequest enroll;
  enroll.set_enrollment_token("fenr_\xc3");
  grpc::ClientContext enroll_context;
  enroll_context.set_deadline(deadline);
  v1::EnrollResponse enrolled;
  const grpc::Status not_enrolled = agent->Enroll(&enroll_context, enroll, &enrolled);
  EXPECT_EQ(not_enrolled.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << not_enrolled.error_message();
  EXPECT_TRUE(absl::StrContains(not_enrolled.error_message(), "fleet.v1.EnrollRequest"))
      << not_enrolled.error_message();
}

// A number beyond a double's range in a spec is INVALID_ARGUMENT naming spec_json, not the
// UNKNOWN of an exception that escaped the handler; an 8 KB name is refused quoting at most 64
// bytes of it.
TEST_F(FleetdE2eTest, BadSpecsAndNamesAreInvalidArgument) {
  std::ifstream file(fleetd_->bootstrap_token_file());
  std::string token;
  std::getline(file, token);
  auto admin = v1::AdminService::NewStub(
      grpc::CreateChannel(fleetd_->admin_address(), grpc::InsecureChannelCredentials()));
  auto apply = [&](const std::string& name, const std::string& spec) {
    v1::ApplyPolicyRequest request;
    request.set_name(name);
    request.set_spec_json(spec);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    context.AddMetadata("authorization", "Bearer " + token);
    v1::ApplyPolicyResponse response;
    return admin->ApplyPolicy(&context, request, &response);
  };
  const grpc::Status huge = apply("linux", R"({"max":1e400})");
  EXPECT_EQ(huge.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << huge.error_message();
  EXPECT_TRUE(absl::StrContains(huge.error_message(), "spec_json")) << huge.error_message();
  const grpc::Status long_name = apply(std::string(8192, 'N'), "{}");
  EXPECT_EQ(long_name.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(long_name.error_message().size(), 400u) << long_name.error_message();
  EXPECT_TRUE(absl::StartsWith(long_name.error_message(), "name ")) << long_name.error_message();
}

// Both the admin and the agent server answer the standard health check with SERVING.
TEST_F(FleetdE2eTest, HealthServiceServesOnBothPorts) {
  EXPECT_EQ(CheckHealth(fleetd_->admin_address()), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(CheckHealth(fleetd_->agent_address()), grpc::health::v1::HealthCheckResponse::SERVING);
}

// `fleetctl version -o json` reports both versions and the store: revision 1 holds the bootstrap
// admin token.
TEST_F(FleetdE2eTest, FleetctlVersionAsJson) {
  ASSERT_OK_AND_ASSIGN(CommandResult result,
                       Fleetctl({"--address", fleetd_->admin_address(), "--token-file",
                                 fleetd_->bootstrap_token_file(), "version", "-o", "json"}));
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(absl::StrContains(result.out, "\"clientVersion\": \"" FLEETD_VERSION "\""))
      << result.out;
  EXPECT_TRUE(absl::StrContains(result.out, "\"serverVersion\": \"" FLEETD_VERSION "\""))
      << result.out;
  EXPECT_TRUE(absl::StrContains(result.out, "\"storeBackend\": \"rocksdb\"")) << result.out;
  EXPECT_TRUE(absl::StrContains(result.out, "\"storeRevision\": 1")) << result.out;
}

// FLEETCTL_ADDRESS picks the server when --address is absent; -o yaml and the table work too.
TEST_F(FleetdE2eTest, FleetctlAddressFromEnvironmentAndOtherFormats) {
  const std::vector<std::string> env = {"FLEETCTL_ADDRESS=" + fleetd_->admin_address(),
                                        "FLEETCTL_TOKEN_FILE=" + fleetd_->bootstrap_token_file()};
  ASSERT_OK_AND_ASSIGN(CommandResult yaml, Fleetctl({"version", "-o", "yaml"}, env));
  EXPECT_EQ(yaml.exit_code, 0) << yaml.err;
  EXPECT_TRUE(absl::StrContains(yaml.out, "serverVersion: " FLEETD_VERSION "\n")) << yaml.out;
  EXPECT_TRUE(absl::StrContains(yaml.out, "storeRevision: 1\n")) << yaml.out;

  ASSERT_OK_AND_ASSIGN(CommandResult table, Fleetctl({"version"}, env));
  EXPECT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(absl::StrContains(table.out, "Server Version:  " FLEETD_VERSION)) << table.out;
  EXPECT_TRUE(absl::StrContains(table.out, "Server Address:  " + fleetd_->admin_address()))
      << table.out;
}

// A second fleetd on the same data dir exits 1 with one line naming the holder.
TEST_F(FleetdE2eTest, SecondFleetdOnSameDataDirIsRefused) {
  ASSERT_OK_AND_ASSIGN(
      CommandResult second,
      RunCommand({FLEETD_BIN, "--data-dir", data_dir_, "--admin-addr", "127.0.0.1:0",
                  "--agent-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"}));
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(
      second.err, absl::StrCat(" error data dir ", data_dir_, " is in use by another fleetd (pid ",
                               fleetd_->process().pid(), ")")))
      << second.err;
}

// A second fleetd on a port the first one listens on exits 1 naming the flag and address.
TEST_F(FleetdE2eTest, SecondFleetdOnBusyPortIsRefused) {
  ASSERT_OK_AND_ASSIGN(CommandResult second,
                       RunCommand({FLEETD_BIN, "--data-dir", tmp_.Sub("other"), "--admin-addr",
                                   fleetd_->admin_address(), "--agent-addr", "127.0.0.1:0",
                                   "--http-addr", "127.0.0.1:0"}));
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(
      second.err, absl::StrCat(" error cannot listen on --admin-addr ", fleetd_->admin_address(),
                               ": address already in use")))
      << second.err;
}

// SIGTERM stops fleetd cleanly with exit code 0, and the data dir can be used again at once.
TEST_F(FleetdE2eTest, SigtermStopsCleanlyAndReleasesDataDir) {
  StopWith(SIGTERM);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FleetdProcess> again,
                       FleetdProcess::Start(FLEETD_BIN, data_dir_));
  ASSERT_OK(again->Stop());
}

// SIGINT (Ctrl-C) stops fleetd cleanly too.
TEST_F(FleetdE2eTest, SigintStopsCleanly) { StopWith(SIGINT); }

// fleetctl against an address where nothing listens exits 1 with a hint.
TEST(FleetctlE2eTest, UnreachableServerIsAnError) {
  HeldPort refused(/*listen_too=*/false);
  TempDir tmp;
  ASSERT_OK_AND_ASSIGN(
      CommandResult result,
      Fleetctl({"--address", refused.address(), "--token-file", UnknownTokenFile(tmp), "version"}));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(result.err,
                               absl::StrCat("error: cannot reach fleetd at ", refused.address())))
      << result.err;
  EXPECT_TRUE(absl::StrContains(result.err, "is it running?")) << result.err;
}

// A server that accepts connections but never answers makes fleetctl exit 5 after its deadline.
TEST(FleetctlE2eTest, SilentServerTimesOut) {
  HeldPort silent(/*listen_too=*/true);
  TempDir tmp;
  ASSERT_OK_AND_ASSIGN(
      CommandResult result,
      Fleetctl({"--address", silent.address(), "--token-file", UnknownTokenFile(tmp), "version"}));
  EXPECT_EQ(result.exit_code, 5) << result.err;
  EXPECT_TRUE(absl::StrContains(result.err, "did not answer within")) << result.err;
}

// Usage errors exit 2: an unknown command, an unknown flag, an unknown output format.
TEST(FleetctlE2eTest, UsageErrorsExit2) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"bogus"}, {"--bogus", "version"}, {"version", "-o", "xml"}}) {
    ASSERT_OK_AND_ASSIGN(CommandResult result, Fleetctl(args));
    EXPECT_EQ(result.exit_code, 2) << absl::StrJoin(args, " ") << ": " << result.err;
  }
}

// `fleetd --help` explains every flag and exits 0.
TEST(FleetdFlagsTest, HelpMentionsEveryFlag) {
  ASSERT_OK_AND_ASSIGN(CommandResult result, RunCommand({FLEETD_BIN, "--help"}));
  EXPECT_EQ(result.exit_code, 0);
  for (const char* flag : {"--data-dir", "--admin-addr", "--agent-addr", "--http-addr",
                           "--policy-history", "--log-level", "--version", "--help"}) {
    EXPECT_TRUE(absl::StrContains(result.out, flag)) << flag << " missing from:\n" << result.out;
  }
}

// `fleetd --version` prints the version and exits 0.
TEST(FleetdFlagsTest, VersionFlag) {
  ASSERT_OK_AND_ASSIGN(CommandResult result, RunCommand({FLEETD_BIN, "--version"}));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.out, "fleetd " FLEETD_VERSION "\n");
}

// An unknown flag or a bad flag value is a usage error: exit code 2.
TEST(FleetdFlagsTest, BadFlagsExit2) {
  ASSERT_OK_AND_ASSIGN(CommandResult bogus, RunCommand({FLEETD_BIN, "--bogus"}));
  EXPECT_EQ(bogus.exit_code, 2) << bogus.err;
  ASSERT_OK_AND_ASSIGN(CommandResult level, RunCommand({FLEETD_BIN, "--log-level", "loud"}));
  EXPECT_EQ(level.exit_code, 2) << level.err;
}

// A malformed address is a startup error naming the flag: exit code 1, one error line.
TEST(FleetdFlagsTest, MalformedAddressIsAnError) {
  TempDir tmp;
  ASSERT_OK_AND_ASSIGN(CommandResult result, RunCommand({FLEETD_BIN, "--data-dir", tmp.Sub("data"),
                                                         "--agent-addr", "localhost"}));
  EXPECT_EQ(result.exit_code, 2);  // a bad flag: usage
  EXPECT_TRUE(absl::StrContains(result.err,
                                " error --agent-addr \"localhost\" is not a "
                                "valid HOST:PORT"))
      << result.err;
  // Checked before anything is acquired: no data dir was made.
  EXPECT_FALSE(std::filesystem::exists(tmp.Sub("data")));
}

// Every flag is validated before the data dir, the lock or the store: a bad store spec or an
// out-of-range number exits 2, naming the flag, and leaves nothing behind.
TEST(FleetdFlagsTest, BadValuesExitTwoAndCreateNothing) {
  TempDir tmp;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--store", "postgres://db"}, "--store must be rocksdb:DIR, memory: or etcd://HOST:PORT"},
      {{"--store", "rocksdb:"}, "--store must be rocksdb:DIR, memory: or etcd://HOST:PORT"},
      {{"--revision-retention", "10"}, "--revision-retention must be at least 1000"},
      {{"--heartbeat-interval", "10ms"}, "--heartbeat-interval must be at least 1s"},
      {{"--admin-addr", "127.0.0.1:9", "--agent-addr", "127.0.0.1:9"}, "need different ports"},
      {{"--admin-addr", "127.0.0.1:9", "--http-addr", "127.0.0.1:9"},
       "--http-addr and --admin-addr are both 127.0.0.1:9"},
      {{"--http-addr", "nowhere"}, "--http-addr \"nowhere\" is not a valid HOST:PORT"},
      {{"--store", "etcd://"}, "\"\" is not HOST:PORT"},
      {{"--store", "etcd://a:1,b"}, "\"b\" is not HOST:PORT"},
      {{"--etcd-prefix", "/x/"}, "--etcd-prefix applies to an etcd store only"},
      {{"--store", "etcd://127.0.0.1:2379", "--etcd-max-txn-ops", "3"},
       "--etcd-max-txn-ops: Value 3 not in range 16 to 100000"},
      {{"--store", "etcd://127.0.0.1:2379", "--etcd-cert", "c.pem"}, "--etcd-key"},
      {{"--store", "etcd://127.0.0.1:2379", "--etcd-ca", "/nonexistent/ca.pem"}, "--etcd-ca"},
  };
  for (const auto& [flags, message] : cases) {
    std::vector<std::string> argv = {FLEETD_BIN, "--data-dir", tmp.Sub("data")};
    argv.insert(argv.end(), flags.begin(), flags.end());
    ASSERT_OK_AND_ASSIGN(CommandResult result, RunCommand(argv));
    EXPECT_EQ(result.exit_code, 2) << flags[0];
    EXPECT_TRUE(absl::StrContains(result.err, message)) << result.err;
    EXPECT_FALSE(std::filesystem::exists(tmp.Sub("data"))) << flags[0];
  }
}

}  // namespace
}  // namespace fleet::server
