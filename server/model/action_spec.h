// What CreateAction (admin.proto CreateActionRequest) accepts: the action types, their arguments,
// the expiry and the rollout span, checked before any target is resolved or anything is written.
#ifndef FLEETD_SERVER_MODEL_ACTION_SPEC_H_
#define FLEETD_SERVER_MODEL_ACTION_SPEC_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fleet/v1/admin.pb.h"

namespace fleet::server {

// The largest arguments_json, in canonical form (agent.proto AgentAction.arguments_json).
inline constexpr size_t kMaxActionArgumentsBytes = 64 * 1024;
// When an action stops being sent if the request does not say.
inline constexpr absl::Duration kDefaultActionExpiry = absl::Hours(14 * 24);
// The latest expires_at a request may ask for, from now.
inline constexpr absl::Duration kMaxActionExpiry = absl::Hours(366 * 24);

// A request's action as it will be stored.
struct ActionSpec {
  std::string type;
  // Canonical JSON (RFC 8785) of an object; "{}" for none.
  std::string arguments_json;
  absl::Time expires_at;
  absl::Duration rollout_duration;
};

// Checks `request` (all but its targets, which target_resolver.h checks) at `now`. Returns the
// spec, or INVALID_ARGUMENT whose message starts with the field: "type" (not one of upgrade,
// restart, unenroll, diagnostics, custom), "arguments_json..." (not an I-JSON object, over
// kMaxActionArgumentsBytes, or a required argument missing or of the wrong kind, e.g.
// "arguments_json.version"), "expires_at" (in the past, or more than kMaxActionExpiry ahead),
// "rollout_duration" (negative, or not shorter than the time to expiry). Thread-safe.
absl::StatusOr<ActionSpec> ValidateActionSpec(const v1::CreateActionRequest& request,
                                              absl::Time now);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_MODEL_ACTION_SPEC_H_
