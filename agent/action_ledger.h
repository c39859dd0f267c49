// The actions one agent connection has received and where each is (its last ActionStatus), so
// that an action fleetd sends again after a reconnect is not run again but answered with its
// current state, that a final state never changes, and that no status goes out for an action
// never received. Running actions are all kept; finished ones only the newest `finished_kept`
// (fleetd stops sending an action once it has the final state, so an old one hardly comes back,
// and memory stays bounded on an agent that runs actions for years).
#ifndef FLEETD_AGENT_ACTION_LEDGER_H_
#define FLEETD_AGENT_ACTION_LEDGER_H_

#include <cstddef>
#include <deque>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "fleet/v1/agent.pb.h"

namespace fleet::agent {

// SUCCEEDED, FAILED, REJECTED, CANCELLED.
bool IsFinalActionState(v1::ActionStatus::State state);

// OK when `status` is one fleetd takes (agent.proto, ActionStatus): a valid state other than
// STATE_UNSPECIFIED, progress 0 to 100, output at most 64 KiB; else INVALID_ARGUMENT naming the
// field. The id is not looked at.
absl::Status CheckActionStatus(const v1::ActionStatus& status);

// Thread-compatible (the connection's lock guards it).
class ActionLedger {
 public:
  // Keeps at least one finished action.
  explicit ActionLedger(size_t finished_kept);

  // The last status recorded for `id`; null when never received, or finished and forgotten.
  const v1::ActionStatus* Find(absl::string_view id) const;

  // Records a new action's first status (status.id() names it). Precondition: Find(id) is null
  // and CheckActionStatus(status) is OK.
  void Add(v1::ActionStatus status);

  // Records a later status of a known action: NOT_FOUND when Find(status.id()) is null,
  // FAILED_PRECONDITION when its recorded state is final (nothing changes). Precondition:
  // CheckActionStatus(status) is OK.
  [[nodiscard]] absl::Status Update(v1::ActionStatus status);

  // Actions recorded in a state that is not final, and finished ones remembered.
  size_t running() const { return entries_.size() - finished_.size(); }
  size_t finished() const { return finished_.size(); }

 private:
  // Remembers `id` as finished, forgetting the oldest finished beyond the bound.
  void Finished(const std::string& id);

  const size_t finished_kept_;
  absl::flat_hash_map<std::string, v1::ActionStatus> entries_;
  // Ids of the finished entries, oldest first.
  std::deque<std::string> finished_;
};

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_ACTION_LEDGER_H_
