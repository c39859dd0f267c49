// Changing many agents with one admin request (admin.proto AgentSelection: UnenrollAgents,
// ReassignAgents, LabelAgents, RotateAgentCredentials): which agents a request names, every
// agent checked before any is written, then written kAgentBatch per store transaction, each
// record compared at the revision it was read at.
#ifndef FLEETD_SERVER_ADMIN_AGENT_BATCH_H_
#define FLEETD_SERVER_ADMIN_AGENT_BATCH_H_

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "storage/store.h"

namespace fleet::server {

// Agents written per transaction: a record and a compare each, under etcd's default of 128
// operations per transaction with room for a request's own compares and ops.
inline constexpr size_t kAgentBatch = 100;
// At most this many ids in one request.
inline constexpr int kMaxSelectedIds = 10'000;

// What an edit does to one agent's record.
enum class AgentEdit { kUnchanged, kPut, kDelete };

// Changes `record` in place and says what to write; an error refuses the whole request.
using AgentEditFn = std::function<absl::StatusOr<AgentEdit>(record::AgentRecord& record)>;

struct EditedAgent {
  record::AgentRecord record;  // as written (kDelete: as it was)
  AgentEdit edit = AgentEdit::kUnchanged;
};

// Compares and ops every transaction that writes an agent carries besides the agents' own,
// e.g. that the policy agents are moved to still exists.
struct BatchConditions {
  std::vector<storage::Compare> compares;
  std::vector<storage::Op> ops;
};

// The agents `ids` name (validated, deduplicated; NOT_FOUND naming the first unknown one), or,
// with no ids, those `selector` matches (an empty selector: every agent), in id order.
// INVALID_ARGUMENT for a bad id, selector or too many ids.
absl::StatusOr<std::vector<StoredRecord<record::AgentRecord>>> SelectAgents(
    storage::Store& store, const google::protobuf::RepeatedPtrField<std::string>& ids,
    const std::string& selector);

// Runs `edit` on every agent of `agents`; the first error is returned and nothing is written.
// Then, unless `dry_run`, writes those that changed, kAgentBatch per transaction with
// `conditions`; a batch that loses a race is read again (agents gone meanwhile are left out)
// and edited again, up to a few times, else ABORTED; an edit's error then ends the request with
// earlier batches committed. Returns every agent still there, in order. Thread-safe if `edit`
// is.
absl::StatusOr<std::vector<EditedAgent>> EditAgents(
    storage::Store& store, std::vector<StoredRecord<record::AgentRecord>> agents,
    const AgentEditFn& edit, bool dry_run, const BatchConditions& conditions = {});

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_AGENT_BATCH_H_
