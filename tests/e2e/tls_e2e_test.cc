// End-to-end: a real fleetd serving TLS with certificates from scripts/dev-certs: fleetctl
// refused without the CA and told what to pass, accepted with it; agents' client certificates
// must name the agent they connect as; replaced certificate files serve new connections while
// connected agents stay; admin clients held to a client CA; plaintext off loopback refused.
#include <grpc/grpc_security_constants.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/auth_context.h>
#include <signal.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "agent/agent_channel.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/dev_certs.h"
#include "tests/testing/fleetctl_runner.h"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/subprocess.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_agent.h"

namespace fleet {
namespace {

using testing::CommandResult;
using testing::FleetdProcess;
using ::testing::HasSubstr;
using testing::TempDir;
using testing::TestAgent;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

constexpr char kPolicy[] = "kind: Policy\nmetadata: {name: linux}\nspec: {logs: {level: info}}\n";

class TlsE2eTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(testing::RunDevCerts(certs_.path())); }

  std::string Cert(const std::string& name) const { return certs_.Sub(name); }

  // fleetd serving dev-certs' server pair on both listeners, with `flags` besides.
  void StartFleetd(const std::vector<std::string>& flags = {}) {
    std::vector<std::string> all = {"--tls-cert", Cert("server.pem"), "--tls-key",
                                    Cert("server-key.pem")};
    all.insert(all.end(), flags.begin(), flags.end());
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FLEETD_BIN, tmp_.Sub("data"), all));
  }

  // fleetctl with `args` after --address and --token-file (the bootstrap token).
  CommandResult Fleetctl(const std::vector<std::string>& args,
                         const std::optional<std::string>& input = std::nullopt) {
    return testing::RunFleetctl(FLEETCTL_BIN, *fleetd_, tmp_.Sub("config"), args, "", input);
  }
  // The same trusting the dev CA.
  CommandResult TrustedFleetctl(std::vector<std::string> args,
                                const std::optional<std::string>& input = std::nullopt) {
    args.insert(args.begin(), {"--certificate-authority", Cert("ca.pem")});
    return Fleetctl(args, input);
  }

  // An enrollment token for policy "linux", which it creates.
  std::string EnrollmentToken() {
    CommandResult applied = TrustedFleetctl({"apply", "-f", "-"}, kPolicy);
    EXPECT_EQ(applied.exit_code, 0) << applied.err;
    CommandResult token = TrustedFleetctl({"token", "create", "--policy", "linux", "-o", "json"});
    EXPECT_EQ(token.exit_code, 0) << token.err;
    return token.exit_code == 0 ? nlohmann::json::parse(token.out)["secret"].get<std::string>()
                                : "";
  }

  // A TLS channel to the agent API trusting the dev CA, presenting agent-ID's certificate
  // when `agent_cert` is set.
  std::shared_ptr<grpc::Channel> AgentChannel(const std::string& agent_cert = "") {
    agent::AgentTlsFiles tls{.ca_file = Cert("ca.pem")};
    if (!agent_cert.empty()) {
      tls.cert_file = Cert("agent-" + agent_cert + ".pem");
      tls.key_file = Cert("agent-" + agent_cert + "-key.pem");
    }
    grpc::ChannelArguments args;
    // Each channel its own connection, hence its own handshake.
    args.SetInt("grpc.use_local_subchannel_pool", 1);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        agent::CreateAgentChannel(fleetd_->agent_address(), tls, args);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return channel.ok() ? *channel : nullptr;
  }

  v1::EnrollResponse Enroll(const std::string& token) {
    v1::EnrollResponse identity;
    grpc::Status status = testing::EnrollAgent(AgentChannel(), token, "host", &identity);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return identity;
  }

  // The leaf certificate (PEM) fleetd's agent listener presents to a new connection, or "" when
  // the handshake fails.
  std::string ServedCertificate() {
    auto stub = v1::AgentService::NewStub(AgentChannel());
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::EnrollRequest request;  // refused, after the handshake
    v1::EnrollResponse response;
    grpc::Status status = stub->Enroll(&context, request, &response);
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return "";
    std::vector<grpc::string_ref> pem =
        context.auth_context()->FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
    return pem.empty() ? "" : std::string(pem.front().data(), pem.front().size());
  }

  TempDir tmp_;
  TempDir certs_;
  std::unique_ptr<FleetdProcess> fleetd_;
};

// Without the CA, fleetctl is refused, and the one-line error says to pass
// --certificate-authority; with it (or a context that keeps it) fleetctl works.
TEST_F(TlsE2eTest, FleetctlNeedsTheCa) {
  ASSERT_NO_FATAL_FAILURE(StartFleetd());

  CommandResult plaintext = Fleetctl({"version"});
  EXPECT_NE(plaintext.exit_code, 0);
  EXPECT_THAT(plaintext.err, HasSubstr("--certificate-authority"));
  EXPECT_EQ(std::count(plaintext.err.begin(), plaintext.err.end(), '\n'), 1) << plaintext.err;

  CommandResult untrusted = Fleetctl({"--tls-server-name", "localhost", "version"});
  EXPECT_NE(untrusted.exit_code, 0);
  EXPECT_THAT(untrusted.err, HasSubstr("error: TLS with fleetd at"));
  EXPECT_THAT(untrusted.err, HasSubstr("not trusted: pass --certificate-authority"));
  EXPECT_EQ(std::count(untrusted.err.begin(), untrusted.err.end(), '\n'), 1) << untrusted.err;

  CommandResult wrong_name = TrustedFleetctl({"--tls-server-name", "other.example", "version"});
  EXPECT_NE(wrong_name.exit_code, 0);
  EXPECT_THAT(wrong_name.err, HasSubstr("--tls-server-name"));

  CommandResult trusted = TrustedFleetctl({"version"});
  EXPECT_EQ(trusted.exit_code, 0) << trusted.err;
  EXPECT_THAT(trusted.out, HasSubstr("Server Version:"));

  // login keeps the CA in the context: later commands need no TLS flag.
  CommandResult login = TrustedFleetctl({"login"});
  ASSERT_EQ(login.exit_code, 0) << login.err;
  CommandResult from_context = testing::RunCommand({FLEETCTL_BIN, "get", "policies"},
                                                   {"XDG_CONFIG_HOME=" + tmp_.Sub("config")})
                                   .value_or(CommandResult{});
  EXPECT_EQ(from_context.exit_code, 0) << from_context.err;
}

// An agent whose certificate names another agent is refused UNAUTHENTICATED; its own
// certificate, or none (--agent-client-auth optional), is accepted.
TEST_F(TlsE2eTest, AgentCertificateMustNameTheAgent) {
  ASSERT_NO_FATAL_FAILURE(
      StartFleetd({"--agent-client-ca", Cert("ca.pem"), "--agent-client-auth", "optional"}));
  const std::string token = EnrollmentToken();
  const v1::EnrollResponse me = Enroll(token);
  const v1::EnrollResponse other = Enroll(token);
  ASSERT_FALSE(me.agent_id().empty());
  ASSERT_OK(testing::RunDevCerts(certs_.path(), {"agent", me.agent_id(), other.agent_id()}));

  TestAgent impostor(AgentChannel(other.agent_id()), me);
  // Refused at the start of the call: the Hello may or may not be written first.
  (void)impostor.Hello();
  grpc::Status refused = impostor.Status();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(refused.error_message(), HasSubstr(other.agent_id()));
  EXPECT_THAT(refused.error_message(), HasSubstr("client certificate"));

  TestAgent genuine(AgentChannel(me.agent_id()), me);
  ASSERT_TRUE(genuine.Hello());
  std::optional<v1::ServerMessage> welcome = genuine.Read();
  ASSERT_TRUE(welcome.has_value());
  EXPECT_TRUE(welcome->has_welcome());
  EXPECT_TRUE(genuine.ApplyNext().has_value());

  TestAgent without(AgentChannel(), other);
  ASSERT_TRUE(without.Hello());
  std::optional<v1::ServerMessage> also_welcome = without.Read();
  ASSERT_TRUE(also_welcome.has_value());
  EXPECT_TRUE(also_welcome->has_welcome());
}

// With --agent-client-auth required, an agent without a certificate does not get past the
// handshake.
TEST_F(TlsE2eTest, RequiredClientAuthRefusesAgentsWithoutCertificates) {
  ASSERT_NO_FATAL_FAILURE(StartFleetd({"--agent-client-ca", Cert("ca.pem")}));
  const std::string token = EnrollmentToken();
  v1::EnrollResponse identity;
  grpc::Status status = testing::EnrollAgent(AgentChannel(), token, "host", &identity);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  // Enroll checks that the CA signed the certificate, not whom it names: the agent has no id yet.
  ASSERT_OK(testing::RunDevCerts(certs_.path(), {"agent", "bootstrap"}));
  status = testing::EnrollAgent(AgentChannel("bootstrap"), token, "host", &identity);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// Replacing the certificate files while an agent is connected: new connections soon get the new
// certificate, and the connected agent keeps its stream and still gets updates.
TEST_F(TlsE2eTest, ReplacedCertificatesServeNewConnections) {
  ASSERT_NO_FATAL_FAILURE(StartFleetd());
  const std::string token = EnrollmentToken();
  const v1::EnrollResponse identity = Enroll(token);
  TestAgent connected(AgentChannel(), identity);
  ASSERT_TRUE(connected.Hello());
  ASSERT_TRUE(connected.ApplyNext().has_value());

  const std::string before = ServedCertificate();
  ASSERT_FALSE(before.empty());
  ASSERT_EQ(before, ReadFile(Cert("server.pem")));
  ASSERT_OK(testing::RunDevCerts(certs_.path(), {"server"}));
  const std::string replaced = ReadFile(Cert("server.pem"));
  ASSERT_NE(replaced, before);

  // Bounded: the provider looks every 2 s; 15 s is plenty on a loaded machine.
  std::string served = before;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(15);
       served != replaced && absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(200));
    served = ServedCertificate();
  }
  EXPECT_EQ(served, replaced);

  CommandResult changed =
      TrustedFleetctl({"apply", "-f", "-"},
                      "kind: Policy\nmetadata: {name: linux}\nspec: {logs: {level: debug}}\n");
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  std::optional<v1::PolicyUpdate> update = connected.ApplyNext();
  ASSERT_TRUE(update.has_value());
  EXPECT_EQ(update->target_revision(), 2);
}

// With --admin-client-ca, fleetctl must present a certificate the CA signed, and is told so.
TEST_F(TlsE2eTest, AdminClientCaRequiresAClientCertificate) {
  ASSERT_NO_FATAL_FAILURE(StartFleetd({"--admin-client-ca", Cert("ca.pem")}));
  CommandResult refused = TrustedFleetctl({"version"});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.err, HasSubstr("--client-certificate"));
  CommandResult accepted = TrustedFleetctl({"--client-certificate", Cert("admin.pem"),
                                            "--client-key", Cert("admin-key.pem"), "version"});
  EXPECT_EQ(accepted.exit_code, 0) << accepted.err;
}

// Plaintext on every interface is refused before anything starts; --insecure-plaintext allows it
// with a warning.
TEST_F(TlsE2eTest, PlaintextOffLoopbackNeedsInsecurePlaintext) {
  const std::vector<std::string> flags = {FLEETD_BIN,    "--data-dir",   tmp_.Sub("plain"),
                                          "--store",     "memory:",      "--admin-addr",
                                          "127.0.0.1:0", "--agent-addr", "0.0.0.0:0"};
  ASSERT_OK_AND_ASSIGN(CommandResult refused, testing::RunCommand(flags));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("--agent-addr 0.0.0.0:0 is not a loopback address"));
  EXPECT_THAT(refused.err, HasSubstr("--insecure-plaintext"));

  std::vector<std::string> allowed = flags;
  allowed.push_back("--insecure-plaintext");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<testing::Subprocess> fleetd,
                       testing::Subprocess::Start(allowed));
  EXPECT_TRUE(fleetd->WaitForStderr("plaintext off loopback", absl::Seconds(30)).has_value());
  EXPECT_TRUE(fleetd->WaitForStderr("fleetd listening", absl::Seconds(30)).has_value());
  fleetd->Signal(SIGTERM);
  EXPECT_EQ(testing::ExitCode(fleetd->Wait(absl::Seconds(30))), 0);
}

}  // namespace
}  // namespace fleet
