// How far a policy revision has rolled out: counts over the agents assigned to the policy (with
// their persisted live state), and a watch that recomputes them whenever an agent or the policy
// changes in the store, and every half second for the agents' unlogged state.
#ifndef FLEETD_SERVER_ADMIN_ROLLOUT_STATUS_H_
#define FLEETD_SERVER_ADMIN_ROLLOUT_STATUS_H_

#include <functional>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "storage/store.h"

namespace fleet::server {

// Thread-safe.
class RolloutStatusService {
 public:
  // `offline_after`: see OfflineAfter() in agent_status_view.h. `store` and `clock` are not
  // owned and outlive the service.
  RolloutStatusService(storage::Store& store, Clock& clock, absl::Duration offline_after)
      : store_(store), clock_(clock), offline_after_(offline_after) {}

  // NOT_FOUND for an unknown policy or a revision it never had; INVALID_ARGUMENT for a negative
  // revision.
  absl::StatusOr<v1::RolloutStatus> Get(const v1::GetRolloutStatusRequest& request);

  // Calls send(status) with the status now and again each time it changes, until send returns
  // false or stop() returns true (polled at least every 200 ms); then OK. Errors as Get's, and
  // the store's.
  absl::Status Watch(const v1::GetRolloutStatusRequest& request,
                     const std::function<bool(const v1::RolloutStatus&)>& send,
                     const std::function<bool()>& stop);

 private:
  storage::Store& store_;               // not owned
  Clock& clock_;                        // not owned
  const absl::Duration offline_after_;  // see OfflineAfter()
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_ROLLOUT_STATUS_H_
