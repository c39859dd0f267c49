// A MemoryStore, a manual clock, the control layer the admin side reads (agent directory, live
// agent state, rollout tracker) and helpers to seed agents, for the server's unit tests.
#ifndef FLEETD_TESTS_SERVER_ADMIN_TEST_ENV_H_
#define FLEETD_TESTS_SERVER_ADMIN_TEST_ENV_H_

#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "server/admin/admin_service.h"
#include "server/control/agent_directory.h"
#include "server/control/agent_state.h"
#include "server/control/rollout_tracker.h"
#include "server/model/records.pb.h"
#include "server/model/store_layout.h"
#include "storage/memory_store.h"
#include "storage/store.h"

namespace fleet::server {

struct AdminTestEnv {
  explicit AdminTestEnv(std::unique_ptr<storage::Store> given = storage::NewMemoryStore())
      : store(std::move(given)) {
    directory.AddObserver(rollouts);
    if (!directory.Start().ok()) std::abort();
  }

  AdminControl control() { return {.directory = directory, .state = state, .rollouts = rollouts}; }

  std::unique_ptr<storage::Store> store;
  ManualClock clock{absl::FromUnixSeconds(1'800'000'000)};
  RolloutTracker rollouts;
  // Flushes only when asked.
  AgentStateTracker state{*store, clock, {.flush_interval = absl::Hours(1)}, &rollouts};
  AgentDirectory directory{*store};

  // Writes an agent record directly, as the agent API will.
  void PutAgent(const std::string& id, const std::string& policy,
                v1::AgentStatus status = v1::AGENT_STATUS_ONLINE, int64_t applied_revision = 0,
                const std::map<std::string, std::string>& labels = {},
                int64_t nacked_revision = 0) {
    record::AgentRecord record;
    v1::Agent& agent = *record.mutable_agent();
    agent.set_id(id);
    agent.set_policy(policy);
    for (const auto& [key, value] : labels) (*agent.mutable_labels())[key] = value;
    auto result = store->Txn(
        {.success = {storage::Op::Put(layout::AgentKey(id), record.SerializeAsString())}});
    if (!result.ok() || !directory.WaitForRevision(result->revision, absl::Seconds(10))) {
      std::abort();
    }
    // The live fields come from the agent's state, as a connected agent's would.
    this->state.Update(id, [&](record::AgentStatusRecord& state) {
      state.set_status(status);
      state.set_policy(policy);
      state.set_applied_revision(applied_revision);
      state.set_nacked_revision(nacked_revision);
    });
  }
};

}  // namespace fleet::server

#endif  // FLEETD_TESTS_SERVER_ADMIN_TEST_ENV_H_
