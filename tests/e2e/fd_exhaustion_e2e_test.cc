// End-to-end: a real fleetd under an open-file limit of 300 takes a storm of 600 raw TCP
// connections to its agent port. It refuses what it cannot hold, stays up, keeps answering the
// admin API, and once the storm is over takes a real agent connection again (gRPC's own
// listener would have stopped accepting for good after its first EMFILE).
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/fleetctl_runner.h"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet {
namespace {

using testing::CommandResult;
using testing::FleetdProcess;
using testing::TempDir;

constexpr int kFleetdFdLimit = 300;
constexpr int kStormConnections = 600;

// Raw TCP connections to 127.0.0.1:`port` that never speak, held open until destroyed.
class Storm {
 public:
  Storm(int port, int count) {
    for (int i = 0; i < count; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        ADD_FAILURE() << "socket: " << std::strerror(errno);
        return;
      }
      fds_.push_back(fd);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(port);
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      // The kernel completes the handshake from the backlog, whether fleetd accepts or not.
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) ++connected_;
    }
  }
  ~Storm() { Close(); }

  int connected() const { return connected_; }

  // How many of the connections the server has ended; waits (bounded by `timeout`) until at
  // least `want` have.
  int CountEnded(int want, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    std::vector<bool> ended(fds_.size(), false);
    int count = 0;
    while (true) {
      std::vector<pollfd> polled;
      for (int fd : fds_) polled.push_back({.fd = fd, .events = POLLIN, .revents = 0});
      poll(polled.data(), polled.size(), 100);
      for (size_t i = 0; i < polled.size(); ++i) {
        if (ended[i] || polled[i].revents == 0) continue;
        char byte;
        const ssize_t n = recv(fds_[i], &byte, 1, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
          ended[i] = true;
          ++count;
        }
      }
      if (count >= want || absl::Now() > deadline) return count;
    }
  }

  void Close() {
    for (int fd : fds_) close(fd);
    fds_.clear();
  }

 private:
  std::vector<int> fds_;
  int connected_ = 0;
};

class FdExhaustionE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // This process holds the storm's connections: it needs more descriptors than fleetd gets.
    rlimit limit{};
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &limit), 0);
    if (limit.rlim_max < 2 * kStormConnections) {
      GTEST_SKIP() << "the hard open-file limit (" << limit.rlim_max << ") is too low for the test";
    }
    limit.rlim_cur = limit.rlim_max;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &limit), 0);

    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start({.binary = FLEETD_BIN,
                                                        .data_dir = tmp_.Sub("data"),
                                                        .open_file_limit = kFleetdFdLimit}));
    ASSERT_TRUE(absl::StrContains(fleetd_->startup_log(),
                                  absl::StrCat("open-file limit: ", kFleetdFdLimit)))
        << fleetd_->startup_log();
    const std::string& agent = fleetd_->agent_address();
    ASSERT_TRUE(absl::SimpleAtoi(agent.substr(agent.rfind(':') + 1), &agent_port_)) << agent;
  }

  void TearDown() override {
    if (fleetd_ != nullptr) ASSERT_OK(fleetd_->Stop());
  }

  CommandResult Fleetctl(const std::vector<std::string>& args,
                         const std::optional<std::string>& input = std::nullopt) {
    return testing::RunFleetctl(FLEETCTL_BIN, *fleetd_, tmp_.Sub("config"), args, "", input);
  }

  bool Running() { return !fleetd_->process().Wait(absl::ZeroDuration()).has_value(); }

  TempDir tmp_;
  std::unique_ptr<FleetdProcess> fleetd_;
  int agent_port_ = 0;
};

// A storm of twice as many connections as fleetd has descriptors: the excess is refused (the
// connections end), the refusals are logged, fleetd stays up and serves the admin API, and once
// the storm is over an agent enrolls and gets its policy over a Connect stream.
TEST_F(FdExhaustionE2eTest, RefusesTheExcessAndServesAgentsAfterwards) {
  ASSERT_EQ(Fleetctl({"apply", "-f", "-"},
                     "kind: Policy\nmetadata: {name: linux}\nspec: {logs: {level: info}}\n")
                .exit_code,
            0);
  CommandResult token = Fleetctl({"token", "create", "--policy", "linux", "-o", "json"});
  ASSERT_EQ(token.exit_code, 0) << token.err;
  const std::string secret = nlohmann::json::parse(token.out)["secret"];

  {
    Storm storm(agent_port_, kStormConnections);
    ASSERT_EQ(storm.connected(), kStormConnections);
    // fleetd cannot hold more than its limit, so at least the rest must have been ended.
    const int must_end = kStormConnections - kFleetdFdLimit;
    EXPECT_GE(storm.CountEnded(must_end, absl::Seconds(60)), must_end);
    std::optional<std::string> refusing =
        fleetd_->process().WaitForStderr("refusing agent connections", absl::Seconds(30));
    ASSERT_TRUE(refusing.has_value());
    EXPECT_TRUE(absl::StrContains(*refusing, absl::StrCat("of limit ", kFleetdFdLimit)))
        << *refusing;
    ASSERT_TRUE(Running());

    // The admin API keeps its own share of descriptors.
    CommandResult version = Fleetctl({"version"});
    EXPECT_EQ(version.exit_code, 0) << version.err;
    EXPECT_TRUE(absl::StrContains(version.out, "Server Version:")) << version.out;
  }

  // The storm is over: a new agent enrolls and connects.
  auto stub = v1::AgentService::NewStub(
      grpc::CreateChannel(fleetd_->agent_address(), grpc::InsecureChannelCredentials()));
  v1::EnrollRequest enroll;
  enroll.set_enrollment_token(secret);
  enroll.mutable_facts()->set_hostname("after-the-storm");
  v1::EnrollResponse identity;
  {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    grpc::Status status = stub->Enroll(&context, enroll, &identity);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  context.AddMetadata("x-fleet-agent-id", identity.agent_id());
  context.AddMetadata("authorization", "Bearer " + identity.agent_secret());
  auto stream = stub->Connect(&context);
  v1::AgentMessage hello;
  hello.mutable_hello();
  ASSERT_TRUE(stream->Write(hello));
  v1::ServerMessage message;
  ASSERT_TRUE(stream->Read(&message));
  ASSERT_TRUE(message.has_welcome()) << message.DebugString();
  EXPECT_EQ(message.welcome().policy(), "linux");
  ASSERT_TRUE(stream->Read(&message));
  ASSERT_TRUE(message.has_policy_update()) << message.DebugString();
  EXPECT_EQ(message.policy_update().kind(), v1::PolicyUpdate::FULL);
  stream->WritesDone();
  while (stream->Read(&message)) {
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_TRUE(Running());
}

}  // namespace
}  // namespace fleet
