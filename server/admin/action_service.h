// The admin API's actions (admin.proto CreateAction, GetAction, ListActions, CancelAction,
// WatchAction, ListActionTargets): requests checked (action_spec.h), targets resolved
// (target_resolver.h), the action committed in one transaction (action_record.h), and the
// counts and results read from the ActionEngine (server/control/action_engine.h), once it has
// seen the store as far as the call read or wrote it.
#ifndef FLEETD_SERVER_ADMIN_ACTION_SERVICE_H_
#define FLEETD_SERVER_ADMIN_ACTION_SERVICE_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "server/control/action_engine.h"
#include "server/control/agent_directory.h"
#include "storage/store.h"

namespace fleet::server {

// Thread-safe.
class ActionService {
 public:
  // `store`, `clock`, `directory` (which targets are resolved against) and `engine` are not owned
  // and outlive the service.
  ActionService(storage::Store& store, Clock& clock, AgentDirectory& directory,
                ActionEngine& engine)
      : store_(store), clock_(clock), directory_(directory), engine_(engine) {}

  // Commits the action (created by `creator`) and returns it with its counts. INVALID_ARGUMENT
  // naming the field for a bad request (action_spec.h, target_resolver.h), NOT_FOUND for an
  // unknown agent id or policy among the targets; UNAVAILABLE when the engine did not catch up.
  absl::StatusOr<v1::Action> Create(const v1::CreateActionRequest& request,
                                    const v1::Creator& creator);
  // NOT_FOUND for an unknown id; INVALID_ARGUMENT for a malformed one.
  absl::StatusOr<v1::Action> Get(const v1::GetActionRequest& request);
  // Newest first, paged (at most kMaxPageSize a page), only those in `state` when set: ACTIVE,
  // CANCELLED and EXPIRED as ActionStateOf (action_engine.h) says, DONE every finished action
  // (cancelled and expired ones too). INVALID_ARGUMENT for a bad page token or size.
  absl::StatusOr<v1::ListActionsResponse> List(const v1::ListActionsRequest& request);
  // Commits cancelled_at (once: a cancelled or finished action is returned as it is).
  absl::StatusOr<v1::Action> Cancel(const v1::CancelActionRequest& request);
  // Calls send(action) with the action now and again whenever it changes (at most every 100 ms,
  // the newest always sent) until it is done (sent last), send returns false or stop() returns
  // true (looked at at least every 200 ms); then OK. Errors as Get's.
  absl::Status Watch(const v1::GetActionRequest& request,
                     const std::function<bool(const v1::Action&)>& send,
                     const std::function<bool()>& stop);
  // The action's targets in agent id order, with their hostnames when still enrolled; at most
  // 1,000 a page (the default).
  absl::StatusOr<v1::ListActionTargetsResponse> ListTargets(
      const v1::ListActionTargetsRequest& request);

 private:
  // Waits until the engine has seen `revision`; UNAVAILABLE when it did not in a few seconds.
  absl::Status CatchUp(int64_t revision);
  // Checks the id, reads the head (NOT_FOUND without one) and waits for the engine to have seen
  // it; returns its mod revision.
  absl::StatusOr<int64_t> Known(const std::string& id);
  // The engine's view of a known action.
  absl::StatusOr<v1::Action> FromEngine(const std::string& id);

  storage::Store& store_;      // not owned
  Clock& clock_;               // not owned
  AgentDirectory& directory_;  // not owned
  ActionEngine& engine_;       // not owned
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_ACTION_SERVICE_H_
