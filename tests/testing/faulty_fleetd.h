// A whole fleetd (FleetdServer, in process) on a store that fails on demand, with one real agent
// enrolled and on a real Connect stream: what the tests of health and of self-healing after store
// failures start from. Header-only: a test that uses it links fleet_server and fleet_agent_core.
#ifndef FLEETD_TESTS_TESTING_FAULTY_FLEETD_H_
#define FLEETD_TESTS_TESTING_FAULTY_FLEETD_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "common/clock.h"
#include "gtest/gtest.h"
#include "server/admin/enrollment_token_service.h"
#include "server/admin/policy_service.h"
#include "server/app/fleetd_server.h"
#include "server/control/agent_directory.h"
#include "storage/memory_store.h"
#include "tests/testing/fault_injecting_store.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_agent.h"

namespace fleet::testing {

// Not thread-safe; for a test's own thread.
class FaultyFleetd {
 public:
  // The policy every agent of this fleetd gets.
  static constexpr char kPolicy[] = "linux";

  // Applies `spec_json` to kPolicy, starts fleetd (admin, agent and HTTP listeners on free
  // loopback ports) on a FaultInjectingStore over a memory store, and enrolls agent "web" with a
  // token for kPolicy, which says Hello and applies its first update. Fails the test (call it
  // under ASSERT_NO_FATAL_FAILURE) when any step fails.
  void Start(const std::string& spec_json) {
    ASSERT_OK(Apply(spec_json));
    v1::CreateEnrollmentTokenRequest token;
    token.set_policy(kPolicy);
    ASSERT_OK_AND_ASSIGN(
        v1::CreateEnrollmentTokenResponse created,
        server::EnrollmentTokenService(*memory_, Clock::Real()).Create(token, "test"));
    auto faulty = std::make_unique<FaultInjectingStore>(*memory_);
    faults_ = faulty.get();
    ASSERT_OK_AND_ASSIGN(server_, server::FleetdServer::Start({.data_dir = tmp_.Sub("data"),
                                                               .admin_addr = "127.0.0.1:0",
                                                               .agent_addr = "127.0.0.1:0",
                                                               .http_addr = "127.0.0.1:0"},
                                                              std::move(faulty)));
    v1::EnrollResponse identity;
    grpc::Status enrolled =
        EnrollAgent(server_->agent_address(), created.secret(), "web", &identity);
    ASSERT_TRUE(enrolled.ok()) << enrolled.error_message();
    agent_ = std::make_unique<TestAgent>(server_->agent_address(), identity);
    ASSERT_TRUE(agent_->Hello());
    first_update_ = agent_->ApplyNext();
    ASSERT_TRUE(first_update_.has_value());
  }

  // Commits `spec_json` as kPolicy's next revision straight to the store under the faults, as a
  // replica whose store path works would; the errors of PolicyService::Apply.
  absl::Status Apply(const std::string& spec_json) {
    v1::ApplyPolicyRequest request;
    request.set_name(kPolicy);
    request.set_spec_json(spec_json);
    return policies_.Apply(request, "test").status();
  }

  // After Start:
  server::FleetdServer& server() { return *server_; }
  FaultInjectingStore& faults() { return *faults_; }
  TestAgent& agent() { return *agent_; }
  const v1::PolicyUpdate& first_update() const { return *first_update_; }
  // Drops the agent, closing its stream without an answer (e.g. before a shutdown).
  void DropAgent() { agent_.reset(); }

 private:
  TempDir tmp_;
  // Outlives the server, which holds `faults_`, a wrapper of it.
  std::unique_ptr<storage::Store> memory_ = storage::NewMemoryStore();
  server::AgentDirectory unused_directory_{*memory_};  // only deleting a policy counts agents
  server::PolicyService policies_{*memory_, Clock::Real(), {}, unused_directory_};
  FaultInjectingStore* faults_ = nullptr;  // owned by server_
  std::unique_ptr<server::FleetdServer> server_;
  std::unique_ptr<TestAgent> agent_;
  std::optional<v1::PolicyUpdate> first_update_;
};

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_FAULTY_FLEETD_H_
