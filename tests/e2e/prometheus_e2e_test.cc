// End-to-end: a real fleetd's /metrics read by Prometheus's own tools. promtool (Debian's
// prometheus package) accepts the exposition, and a real Prometheus server on loopback, scraping
// fleetd every second, reports through its query API as many connected agents as there are.
// Both skip when the binaries are not installed.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
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
using testing::FleetdProcess;
using testing::Subprocess;
using testing::TempDir;
using testing::TestAgent;

constexpr char kPromtool[] = "/usr/bin/promtool";
constexpr char kPrometheus[] = "/usr/bin/prometheus";
constexpr int kAgents = 5;

// A port free on 127.0.0.1 now (the kernel's pick), for a server that takes no port 0.
absl::StatusOr<int> PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  if (!ok) return absl::InternalError("cannot pick a free port");
  return ntohs(address.sin_port);
}

// "HOST:PORT" split for cpp-httplib's client.
httplib::Client ClientFor(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  (void)absl::SimpleAtoi(address.substr(colon + 1), &port);
  httplib::Client client(address.substr(0, colon), port);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  return client;
}

class PrometheusE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FLEETD_BIN, tmp_.Sub("data")));
    ASSERT_FALSE(fleetd_->http_address().empty()) << fleetd_->startup_log();
    CommandResult applied = Fleetctl(
        {"apply", "-f", "-"}, "kind: Policy\nmetadata: {name: linux}\nspec: {level: info}\n");
    ASSERT_EQ(applied.exit_code, 0) << applied.err;
    CommandResult token = Fleetctl({"token", "create", "--policy", "linux", "-o", "json"});
    ASSERT_EQ(token.exit_code, 0) << token.err;
    const std::string secret = nlohmann::json::parse(token.out)["secret"];
    for (int i = 0; i < kAgents; ++i) {
      v1::EnrollResponse identity;
      grpc::Status enrolled = testing::EnrollAgent(fleetd_->agent_address(), secret,
                                                   absl::StrCat("web-", i), &identity);
      ASSERT_TRUE(enrolled.ok()) << enrolled.error_message();
      agents_.push_back(std::make_unique<TestAgent>(fleetd_->agent_address(), identity));
      ASSERT_TRUE(agents_.back()->Hello());
      ASSERT_TRUE(agents_.back()->ApplyNext().has_value());
    }
  }

  CommandResult Fleetctl(const std::vector<std::string>& args,
                         const std::optional<std::string>& input = std::nullopt) {
    return testing::RunFleetctl(FLEETCTL_BIN, *fleetd_, tmp_.Sub("config"), args, "", input);
  }

  TempDir tmp_;
  std::unique_ptr<FleetdProcess> fleetd_;
  std::vector<std::unique_ptr<TestAgent>> agents_;
};

// promtool accepts a live fleetd's /metrics, every family having samples by now.
TEST_F(PrometheusE2eTest, PromtoolAcceptsTheExposition) {
  if (!std::filesystem::exists(kPromtool)) GTEST_SKIP() << kPromtool << " is not installed";
  httplib::Client client = ClientFor(fleetd_->http_address());
  httplib::Result metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics) << httplib::to_string(metrics.error());
  ASSERT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(metrics->body, ::testing::HasSubstr(absl::StrCat(
                                 "\nfleetd_agents_connected{policy=\"linux\"} ", kAgents, "\n")));
  ASSERT_OK_AND_ASSIGN(CommandResult checked,
                       testing::RunCommand({kPromtool, "check", "metrics"}, {}, metrics->body));
  EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;
  EXPECT_EQ(checked.out + checked.err, "");  // no lint complaint either
}

// A real Prometheus scraping fleetd every second sees fleetd_agents_connected sum to the number
// of agents connected, and follow one that leaves.
TEST_F(PrometheusE2eTest, PrometheusSeesTheConnectedAgents) {
  if (!std::filesystem::exists(kPrometheus)) GTEST_SKIP() << kPrometheus << " is not installed";
  ASSERT_OK_AND_ASSIGN(const int port, PickFreePort());
  const std::string config = tmp_.Sub("prometheus.yml");
  std::ofstream(config) << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                        << "scrape_configs:\n  - job_name: fleetd\n    static_configs:\n"
                        << "      - targets: ['" << fleetd_->http_address() << "']\n";
  const std::string address = absl::StrCat("127.0.0.1:", port);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Subprocess> prometheus,
                       Subprocess::Start({kPrometheus, "--config.file=" + config,
                                          "--storage.tsdb.path=" + tmp_.Sub("tsdb"),
                                          "--web.listen-address=" + address, "--log.level=warn"}));

  httplib::Client client = ClientFor(address);
  std::string last;
  // Polls the query API until the sum is `want`; bounded: Prometheus starts, scrapes every
  // second, and the query sees the newest sample.
  const auto connected_reaches = [&](int want) {
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    while (absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(500));
      httplib::Result answer = client.Get("/api/v1/query?query=sum(fleetd_agents_connected)");
      if (!answer || answer->status != 200) continue;
      last = answer->body;
      const nlohmann::json body = nlohmann::json::parse(answer->body, nullptr, false);
      if (body.is_discarded() || body["data"]["result"].empty()) continue;
      double connected = -1;
      if (absl::SimpleAtod(body["data"]["result"][0]["value"][1].get<std::string>(), &connected) &&
          connected == want) {
        return true;
      }
    }
    return false;
  };
  EXPECT_TRUE(connected_reaches(kAgents)) << "last answer: " << last;
  // One agent leaves: the gauge follows.
  EXPECT_TRUE(agents_.back()->End().ok());
  agents_.pop_back();
  EXPECT_TRUE(connected_reaches(kAgents - 1)) << "last answer: " << last;

  prometheus->Signal(SIGTERM);
  if (!prometheus->Wait(absl::Seconds(20)).has_value()) prometheus->Signal(SIGKILL);
}

}  // namespace
}  // namespace fleet
