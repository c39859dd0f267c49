// fleetd's HTTP endpoint and gRPC health, on a whole fleetd (FleetdServer, in process) over a
// store that fails on demand, with a real agent on a real Connect stream: /readyz and gRPC health
// follow the store's failure and recovery, and /metrics counts what the agent did.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"
#include "server/app/fleetd_server.h"
#include "server/app/health_monitor.h"
#include "server/app/http_endpoint.h"
#include "tests/testing/faulty_fleetd.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

using ::grpc::health::v1::HealthCheckResponse;
using ::testing::HasSubstr;

// How long the health monitor (a probe a second) may take to see a change.
constexpr absl::Duration kSettle = absl::Seconds(20);

struct HttpAnswer {
  int status = 0;  // 0: no answer
  std::string body;
};

HttpAnswer Get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(5);
  httplib::Result result = client.Get(path);
  if (!result) return {};
  return {.status = result->status, .body = result->body};
}

// The gRPC health status of `service` at `address`; UNKNOWN when the call fails.
HealthCheckResponse::ServingStatus GrpcHealth(const std::string& address,
                                              const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  if (!stub->Check(&context, request, &response).ok()) return HealthCheckResponse::UNKNOWN;
  return response.status();
}

// Polls `done` until it holds or kSettle passes; returns whether it held.
template <typename Done>
bool Eventually(Done done) {
  const absl::Time deadline = absl::Now() + kSettle;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return true;
}

class HealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(fleetd_.Start(R"({"level":"info"})"));
    ASSERT_GT(server().http_port(), 0);
    EXPECT_EQ(server().http_address(), absl::StrCat("127.0.0.1:", server().http_port()));
  }

  FleetdServer& server() { return fleetd_.server(); }
  int ReadyzStatus() { return Get(server().http_port(), "/readyz").status; }

  fleet::testing::FaultyFleetd fleetd_;
};

// A serving fleetd is live and ready; ?verbose lists every check, each passing.
TEST_F(HealthTest, ServingFleetdIsLiveAndReady) {
  const HttpAnswer healthz = Get(server().http_port(), "/healthz");
  EXPECT_EQ(healthz.status, 200);
  EXPECT_EQ(healthz.body, "ok\n");
  const HttpAnswer readyz = Get(server().http_port(), "/readyz");
  EXPECT_EQ(readyz.status, 200);
  EXPECT_EQ(nlohmann::json::parse(readyz.body), nlohmann::json::parse(R"({"status":"ready"})"));
  const nlohmann::json verbose =
      nlohmann::json::parse(Get(server().http_port(), "/readyz?verbose").body);
  std::vector<std::string> names;
  for (const nlohmann::json& check : verbose["checks"]) {
    names.push_back(check["check"]);
    EXPECT_TRUE(check["ok"].get<bool>()) << check.dump();
  }
  EXPECT_THAT(
      names, ::testing::ElementsAre("store", "reflector:policy_engine", "reflector:agent_directory",
                                    "listener:admin", "listener:agent"));
  EXPECT_EQ(GrpcHealth(server().admin_address(), "fleet.v1.AdminService"),
            HealthCheckResponse::SERVING);
  EXPECT_EQ(GrpcHealth(server().agent_address(), "fleet.v1.AgentService"),
            HealthCheckResponse::SERVING);
  EXPECT_EQ(Get(server().http_port(), "/nowhere").status, 404);
}

// When the store fails, /readyz answers 503 naming the store check and gRPC health says
// NOT_SERVING for both services; once the store is back, both recover.
TEST_F(HealthTest, StoreFailureMakesFleetdUnreadyUntilItRecovers) {
  fleetd_.faults().SetUnavailable(true);
  ASSERT_TRUE(Eventually([&] { return ReadyzStatus() == 503; }));
  const nlohmann::json body = nlohmann::json::parse(Get(server().http_port(), "/readyz").body);
  EXPECT_EQ(body["status"], "not ready");
  ASSERT_FALSE(body["failing"].empty());
  EXPECT_EQ(body["failing"][0]["check"], "store");
  EXPECT_THAT(body["failing"][0]["detail"].get<std::string>(), HasSubstr("unavailable"));
  EXPECT_TRUE(Eventually([&] {
    return GrpcHealth(server().admin_address(), "fleet.v1.AdminService") ==
               HealthCheckResponse::NOT_SERVING &&
           GrpcHealth(server().agent_address(), "fleet.v1.AgentService") ==
               HealthCheckResponse::NOT_SERVING;
  }));
  // Liveness is not readiness: the process still serves.
  EXPECT_EQ(Get(server().http_port(), "/healthz").status, 200);

  fleetd_.faults().SetUnavailable(false);
  EXPECT_TRUE(Eventually([&] { return ReadyzStatus() == 200; }));
  EXPECT_TRUE(Eventually([&] {
    return GrpcHealth(server().admin_address(), "fleet.v1.AdminService") ==
               HealthCheckResponse::SERVING &&
           GrpcHealth(server().agent_address(), "fleet.v1.AgentService") ==
               HealthCheckResponse::SERVING;
  }));
}

// /metrics counts the agent's enrollment, stream, update and ack, a refused enrollment by its
// code, and admin calls by method and code; every metric fleetd documents is there.
TEST_F(HealthTest, MetricsCountWhatHappened) {
  v1::EnrollResponse unused;
  const grpc::Status refused =
      fleet::testing::EnrollAgent(server().agent_address(), "bogus", "web", &unused);
  ASSERT_FALSE(refused.ok());
  ASSERT_EQ(GrpcHealth(server().admin_address(), ""), HealthCheckResponse::SERVING);
  const std::string text = Get(server().http_port(), "/metrics").body;
  EXPECT_THAT(text, HasSubstr("\nfleetd_agents_connected{policy=\"linux\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfleetd_agent_streams_opened_total 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfleetd_policy_updates_sent_total{kind=\"full\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfleetd_policy_updates_sent_total{kind=\"delta\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\nfleetd_agent_answers_total{result=\"ack\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfleetd_agent_answers_total{result=\"nack\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("\nfleetd_rollout_convergence_seconds_count 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfleetd_enrollments_total{result=\"ok\"} 1\n"));
  const std::string code = absl::AsciiStrToLower(
      absl::StatusCodeToString(static_cast<absl::StatusCode>(refused.error_code())));
  EXPECT_THAT(text,
              HasSubstr(absl::StrCat("\nfleetd_enrollments_total{result=\"", code, "\"} 1\n")));
  EXPECT_THAT(text, HasSubstr("\nfleetd_admin_requests_total{method=\"grpc.health.v1.Health/"
                              "Check\",code=\"OK\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfleetd_admin_request_duration_seconds_count{method=\"grpc.health."
                              "v1.Health/Check\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("\nfleetd_store_revision "));
  EXPECT_THAT(text, HasSubstr("\n# TYPE fleetd_live_queries gauge\nfleetd_live_queries 0\n"));
  for (const char* name : {"fleetd_agents_connected gauge",
                           "fleetd_agent_streams_opened_total counter",
                           "fleetd_policy_updates_sent_total counter",
                           "fleetd_policy_update_bytes_total counter",
                           "fleetd_agent_answers_total counter",
                           "fleetd_rollout_convergence_seconds histogram",
                           "fleetd_enrollments_total counter",
                           "fleetd_admin_requests_total counter",
                           "fleetd_admin_request_duration_seconds histogram",
                           "fleetd_store_txn_duration_seconds histogram",
                           "fleetd_store_state_writes_total counter",
                           "fleetd_store_state_keys_total counter",
                           "fleetd_store_revision gauge",
                           "fleetd_watch_restarts_total counter",
                           "fleetd_connections_refused_total counter",
                           "process_resident_memory_bytes gauge",
                           "process_open_fds gauge",
                           "process_max_fds gauge",
                           "process_cpu_seconds_total counter",
                           "process_start_time_seconds gauge",
                           "process_virtual_memory_bytes gauge"}) {
    EXPECT_THAT(text, HasSubstr(absl::StrCat("\n# TYPE ", name, "\n"))) << name;
  }
}

// A Reflector that restarts (its watch broke) is counted.
TEST_F(HealthTest, WatchRestartsAreCounted) {
  ASSERT_OK(fleetd_.faults().InjectWatchFault("brokenwatch"));
  EXPECT_TRUE(Eventually([&] {
    const std::string text = Get(server().http_port(), "/metrics").body;
    return text.find("fleetd_watch_restarts_total{reflector=\"policy_engine\"} 0\n") ==
               std::string::npos &&
           text.find("fleetd_watch_restarts_total{reflector=\"agent_directory\"} 0\n") ==
               std::string::npos;
  }));
}

// After Shutdown the endpoint is gone: the port refuses.
TEST_F(HealthTest, ShutdownStopsTheEndpoint) {
  const int port = server().http_port();
  fleetd_.DropAgent();
  server().Shutdown(absl::ZeroDuration());
  EXPECT_EQ(Get(port, "/healthz").status, 0);
}

// Before the parts are attached fleetd is starting, once detached it is stopping: every check
// fails and says which, and gRPC health is left alone.
TEST(HealthMonitorTest, StartingAndStoppingAreNotReady) {
  ServingComponents components;
  HealthMonitor health(components, Clock::Real());
  std::vector<ReadinessCheck> checks = health.Check();
  ASSERT_EQ(checks.size(), 6);
  EXPECT_EQ(checks[0].name, "serving");
  EXPECT_EQ(checks[1].name, "store");
  EXPECT_EQ(checks[5].name, "listener:agent");
  for (const ReadinessCheck& check : checks) {
    EXPECT_FALSE(check.ok) << check.name;
    EXPECT_EQ(check.detail, "fleetd is starting") << check.name;
  }
  EXPECT_FALSE(HealthMonitor::AllOk(checks));
  components.Detach();
  checks = health.Check();
  ASSERT_EQ(checks.size(), 6);
  EXPECT_EQ(checks[0].detail, "fleetd is stopping");
}

// /readyz's body names the failing checks, and lists every check only when verbose.
TEST(ReadinessJsonTest, NamesFailingChecks) {
  const std::vector<ReadinessCheck> checks = {{"store", false, "a write failed: down"},
                                              {"listener:agent", true, "accepting"}};
  EXPECT_EQ(ReadinessJson(checks, false),
            R"({"failing":[{"check":"store","detail":"a write failed: down"}],)"
            R"("status":"not ready"})"
            "\n");
  EXPECT_EQ(nlohmann::json::parse(ReadinessJson(checks, true))["checks"].size(), 2);
  EXPECT_EQ(ReadinessJson({{"store", true, "open and writable"}}, false),
            "{\"status\":\"ready\"}\n");
}

}  // namespace
}  // namespace fleet::server
