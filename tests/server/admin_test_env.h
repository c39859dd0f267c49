// A MemoryStore, a manual clock and helpers to seed records, for the admin-side unit tests.
#ifndef FLEETD_TESTS_SERVER_ADMIN_TEST_ENV_H_
#define FLEETD_TESTS_SERVER_ADMIN_TEST_ENV_H_

#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "server/model/records.pb.h"
#include "server/model/store_layout.h"
#include "storage/memory_store.h"
#include "storage/store.h"

namespace fleet::server {

struct AdminTestEnv {
  std::unique_ptr<storage::Store> store = storage::NewMemoryStore();
  ManualClock clock{absl::FromUnixSeconds(1'800'000'000)};

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
    // The live fields come from the agent's persisted state, as a connected agent's would.
    record::AgentStatusRecord state;
    state.set_status(status);
    state.set_policy(policy);
    state.set_applied_revision(applied_revision);
    state.set_nacked_revision(nacked_revision);
    state.set_last_seen_unix_micros(absl::ToUnixMicros(clock.Now()));
    auto result = store->Txn(
        {.success = {storage::Op::Put(layout::AgentKey(id), record.SerializeAsString())}});
    if (!result.ok()) std::abort();
    if (!store->PutState({{layout::AgentStatusKey(id), state.SerializeAsString()}}, {}).ok()) {
      std::abort();
    }
  }
};

}  // namespace fleet::server

#endif  // FLEETD_TESTS_SERVER_ADMIN_TEST_ENV_H_
