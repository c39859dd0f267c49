// A whole fleetd (FleetdServer, in process) shutting down with hundreds of agents on Connect
// streams while policy changes fan out to them: no grace, so that gRPC cancels every stream at
// once, and the cancelled streams' last operations (writes stuck in flow control, agents that do
// not read) complete while the agent queues shut down.
// Shutdown returns, every agent's stream has ended, and nothing aborts.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "server/admin/enrollment_token_service.h"
#include "server/admin/policy_service.h"
#include "server/app/fleetd_server.h"
#include "server/control/agent_directory.h"
#include "storage/memory_store.h"
#include "storage/store_wrapper.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_agent.h"

namespace fleet::server {
namespace {

constexpr char kPolicy[] = "linux";
constexpr int kAgents = 1500;
// Without the fix every run of the Release build aborted within two rounds; under the
// sanitizers a round takes about 50 s, so one.
#if defined(__SANITIZE_ADDRESS__)
constexpr int kRounds = 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr int kRounds = 1;
#else
constexpr int kRounds = 2;
#endif
#else
constexpr int kRounds = 2;
#endif
constexpr int kConnectors = 4;

// Each revision's notes differ whole, so each update is tens of kilobytes: the agents do not read
// them, and within a few updates every stream has a write stuck in flow control.
std::string Spec(int level) {
  return absl::StrCat(R"({"level":)", level, R"(,"notes":")",
                      std::string(30'000, static_cast<char>('a' + level % 26)), R"("})");
}

TEST(FleetdShutdownTest, StreamsCancelledMidFanOutEndBeforeTheQueuesShutDown) {
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    fleet::testing::TempDir tmp;
    std::unique_ptr<storage::Store> memory = storage::NewMemoryStore();
    AgentDirectory directory(*memory);
    PolicyService policies(*memory, Clock::Real(), {}, directory);
    v1::ApplyPolicyRequest apply;
    apply.set_name(kPolicy);
    apply.set_spec_json(Spec(0));
    ASSERT_OK(policies.Apply(apply, "test"));
    v1::CreateEnrollmentTokenRequest token;
    token.set_policy(kPolicy);
    ASSERT_OK_AND_ASSIGN(v1::CreateEnrollmentTokenResponse created,
                         EnrollmentTokenService(*memory, Clock::Real()).Create(token, "test"));
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<FleetdServer> server,
                         FleetdServer::Start({.data_dir = tmp.Sub("data"),
                                              .admin_addr = "127.0.0.1:0",
                                              .agent_addr = "127.0.0.1:0",
                                              .http_addr = ""},
                                             std::make_unique<storage::StoreWrapper>(*memory)));

    // Enrolled and connected by a few threads side by side, each its own slice.
    std::vector<std::unique_ptr<fleet::testing::TestAgent>> agents(kAgents);
    std::atomic<int> connected{0};
    std::vector<std::thread> connectors;
    for (int slice = 0; slice < kConnectors; ++slice) {
      connectors.emplace_back([&, slice] {
        for (int i = slice; i < kAgents; i += kConnectors) {
          v1::EnrollResponse identity;
          if (!fleet::testing::EnrollAgent(server->agent_address(), created.secret(),
                                           absl::StrCat("host-", i), &identity)
                   .ok()) {
            continue;
          }
          agents[i] =
              std::make_unique<fleet::testing::TestAgent>(server->agent_address(), identity);
          if (agents[i]->Hello() && agents[i]->ApplyNext().has_value()) ++connected;
        }
      });
    }
    for (std::thread& connector : connectors) connector.join();
    ASSERT_EQ(connected.load(), kAgents);

    // Changes keep fanning out to every stream while the server shuts down.
    std::atomic<bool> stop{false};
    std::thread changes([&] {
      for (int level = 1; level < 10'000 && !stop.load(); ++level) {
        apply.set_spec_json(Spec(level));
        if (!policies.Apply(apply, "test").ok()) return;
      }
    });
    absl::SleepFor(absl::Milliseconds(50));
    server->Shutdown(absl::ZeroDuration());
    stop = true;
    changes.join();

    for (const std::unique_ptr<fleet::testing::TestAgent>& agent : agents) {
      EXPECT_FALSE(agent->Status().ok());
    }
  }
}

}  // namespace
}  // namespace fleet::server
