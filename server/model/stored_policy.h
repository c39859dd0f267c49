// A policy revision as the Store holds it (a v1::Policy under /policy_revisions/, store_layout.h),
// with its spec in the canonical form of today (RFC 8785, fleet/v1/canonical_json.h). A revision
// written by a fleetd from before RFC 8785 holds other canonical text (nlohmann::json's) and the
// SHA-256 of that; reading it through here gives the text and hash agents are sent now, so that
// the admin API and the agent stream agree, and an agent holding the old content gets one FULL
// document (its hash matches no retained revision's).
#ifndef FLEETD_SERVER_MODEL_STORED_POLICY_H_
#define FLEETD_SERVER_MODEL_STORED_POLICY_H_

#include "absl/status/statusor.h"
#include "fleet/v1/admin.pb.h"
#include "nlohmann/json.hpp"
#include "storage/types.h"

namespace fleet::server {

struct StoredPolicy {
  v1::Policy policy;  // spec_json canonical, sha256 of it; store_revision not set
  nlohmann::json spec;
};

// The revision stored in `kv`. DATA_LOSS naming the key when the record or its spec does not
// parse. The spec is read as ParseStoredJsonObject reads it (any finite number, no size limit),
// so that a revision fleetd accepted before stays readable.
absl::StatusOr<StoredPolicy> ParseStoredPolicy(const storage::KeyValue& kv);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_MODEL_STORED_POLICY_H_
