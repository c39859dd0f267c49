// How far a policy revision has rolled out: the counts of the in-memory rollout tracker
// (server/control/rollout_tracker.h), and a watch that sends them again whenever they change.
#ifndef FLEETD_SERVER_ADMIN_ROLLOUT_STATUS_H_
#define FLEETD_SERVER_ADMIN_ROLLOUT_STATUS_H_

#include <cstdint>
#include <functional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "fleet/v1/admin.pb.h"
#include "server/control/rollout_tracker.h"
#include "storage/store.h"

namespace fleet::server {

// Thread-safe.
class RolloutStatusService {
 public:
  // `store` (for the policies' heads) and `tracker` are not owned and outlive the service.
  RolloutStatusService(storage::Store& store, RolloutTracker& tracker)
      : store_(store), tracker_(tracker) {}

  // NOT_FOUND for an unknown policy or a revision it never had; INVALID_ARGUMENT for a negative
  // revision.
  absl::StatusOr<v1::RolloutStatus> Get(const v1::GetRolloutStatusRequest& request);

  // The status of `revision` of `policy`, whose latest revision the caller read as `latest`:
  // the tracker's counts alone, no store read (ListPolicies shows one per policy).
  v1::RolloutStatus Status(const std::string& policy, int64_t revision, int64_t latest);

  // Calls send(status) with the status now and again each time it changes (at most every 20 ms,
  // the last change always sent), until send returns false or stop() returns true (looked at
  // least every 200 ms); then OK. Errors as Get's.
  absl::Status Watch(const v1::GetRolloutStatusRequest& request,
                     const std::function<bool(const v1::RolloutStatus&)>& send,
                     const std::function<bool()>& stop);

 private:
  // The status, and the tracker's version of the policy's counts it reflects.
  absl::StatusOr<std::pair<v1::RolloutStatus, int64_t>> Compute(
      const v1::GetRolloutStatusRequest& request);

  storage::Store& store_;    // not owned
  RolloutTracker& tracker_;  // not owned
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_ROLLOUT_STATUS_H_
