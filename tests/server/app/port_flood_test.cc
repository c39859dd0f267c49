// A real fleetd under a small open-file limit, flooded with idle TCP connections that never send
// a byte: the admin and agent listeners have separate descriptor budgets, so a flood of one port
// leaves the other serving; the flooded port serves again once the flood ends; and a connection
// that never finishes its HTTP/2 handshake is closed by fleetd (fleetd_server.cc).
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"

namespace fleet::server {
namespace {

using ::fleet::testing::FleetdProcess;
using ::fleet::testing::TempDir;

// fleetd's open-file limit: its store reserve is then 192 descriptors, the admin budget 64
// connections and the agents get the remaining 256 (fleetd_server.cc).
constexpr int kOpenFileLimit = 512;
// More than either listener's share.
constexpr int kFloodConnections = 400;
// How long a port may take to show it is flooded, or to serve again: generous, for a loaded
// machine; every wait below ends as soon as its condition holds.
constexpr absl::Duration kSettle = absl::Seconds(30);

int PortOf(const std::string& address) {
  int port = 0;
  const std::vector<std::string> parts = absl::StrSplit(address, ':');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &port)) ADD_FAILURE() << address;
  return port;
}

// Whether a health check over a new connection of its own succeeds within a few seconds.
bool Serves(const std::string& address) {
  grpc::ChannelArguments args;
  // A channel of its own, so that no earlier refused connection's reconnect backoff applies.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::health::v1::HealthCheckResponse response;
  return stub->Check(&context, grpc::health::v1::HealthCheckRequest(), &response).ok() &&
         response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
}

// Waits up to kSettle for Serves(address) to be `serving`; returns whether it got there.
bool AwaitServes(const std::string& address, bool serving) {
  const absl::Time deadline = absl::Now() + kSettle;
  while (absl::Now() < deadline) {
    if (Serves(address) == serving) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

// TCP connections to 127.0.0.1:port that never send anything. Closed on destruction or Close.
class IdleConnections {
 public:
  IdleConnections(int port, int count) {
    for (int i = 0; i < count; ++i) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        ADD_FAILURE() << "socket " << i;
        return;
      }
      fds_.push_back(fd);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(port);
      // On loopback a connect completes once the connection is in the listener's backlog.
      if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        ADD_FAILURE() << "connect " << i;
        return;
      }
    }
  }
  ~IdleConnections() { Close(); }

  void Close() {
    for (int fd : fds_) close(fd);
    fds_.clear();
  }

  int fd(int i) const { return fds_[i]; }

 private:
  std::vector<int> fds_;
};

// Reads and drops what arrives on `fd` (the server's HTTP/2 SETTINGS) until the peer closes it
// or `deadline` passes; returns whether it was closed.
bool AwaitClosedByPeer(int fd, absl::Time deadline) {
  while (absl::Now() < deadline) {
    pollfd polled{.fd = fd, .events = POLLIN};
    const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (poll(&polled, 1, timeout_ms > 0 ? timeout_ms : 0) <= 0) continue;
    char buffer[4096];
    const ssize_t got = recv(fd, buffer, sizeof(buffer), 0);
    if (got <= 0) return true;
  }
  return false;
}

class PortFloodTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start({.binary = FLEETD_BIN,
                                                        .data_dir = tmp_.Sub("data"),
                                                        .open_file_limit = kOpenFileLimit}));
  }

  TempDir tmp_;
  std::unique_ptr<FleetdProcess> fleetd_;
};

// Idle connections flooding the admin port use up the admin budget only: the agent port still
// serves while they are held, and the admin port serves again once they are closed.
TEST_F(PortFloodTest, AdminFloodLeavesTheAgentPortServing) {
  IdleConnections flood(PortOf(fleetd_->admin_address()), kFloodConnections);
  ASSERT_TRUE(AwaitServes(fleetd_->admin_address(), false)) << "the flood never filled the port";
  EXPECT_TRUE(Serves(fleetd_->agent_address()));
  flood.Close();
  EXPECT_TRUE(AwaitServes(fleetd_->admin_address(), true));
  EXPECT_TRUE(Serves(fleetd_->agent_address()));
}

// The same the other way round: a flood of the agent port leaves the admin port serving.
TEST_F(PortFloodTest, AgentFloodLeavesTheAdminPortServing) {
  IdleConnections flood(PortOf(fleetd_->agent_address()), kFloodConnections);
  ASSERT_TRUE(AwaitServes(fleetd_->agent_address(), false)) << "the flood never filled the port";
  EXPECT_TRUE(Serves(fleetd_->admin_address()));
  flood.Close();
  EXPECT_TRUE(AwaitServes(fleetd_->agent_address(), true));
  EXPECT_TRUE(Serves(fleetd_->admin_address()));
}

// A connection that never sends its HTTP/2 preface is closed by fleetd after the 10 s handshake
// timeout, on both ports, long before gRPC's default of 120 s.
TEST_F(PortFloodTest, IdleConnectionIsClosedAfterTheHandshakeTimeout) {
  IdleConnections admin(PortOf(fleetd_->admin_address()), 1);
  IdleConnections agent(PortOf(fleetd_->agent_address()), 1);
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  EXPECT_TRUE(AwaitClosedByPeer(admin.fd(0), deadline));
  EXPECT_TRUE(AwaitClosedByPeer(agent.fd(0), deadline));
}

}  // namespace
}  // namespace fleet::server
