// One committed policy revision's content, parsed once, and the update that takes an agent from
// one revision's content to another's: the pieces the PolicyEngine (policy_engine.h) caches and
// shares between every agent stream.
#ifndef FLEETD_SERVER_CONTROL_POLICY_CONTENT_H_
#define FLEETD_SERVER_CONTROL_POLICY_CONTENT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/control/update_source.h"
#include "storage/types.h"

namespace fleet::server {

// Immutable once built; shared.
struct PolicyContent {
  std::string policy;
  int64_t revision = 0;
  nlohmann::json spec;
  std::string canonical;  // the canonical JSON the hash is taken over (agent.proto)
  std::string sha256;
  absl::Time commit_time;
};
using PolicyContentPtr = std::shared_ptr<const PolicyContent>;

// The revision stored at `kv` (a /policy_revisions/ key), its canonical text and hash as of RFC
// 8785 (server/model/stored_policy.h); DATA_LOSS when it does not parse, or when its canonical
// form exceeds kMaxSpecBytes (only a revision stored before that limit applied to it can).
absl::StatusOr<PolicyContentPtr> ParsePolicyContent(const storage::KeyValue& kv);

// The update to `to`: a DELTA (RFC 6902 patch, in canonical JSON) from `from` when given and the
// patch is smaller than the document, else the FULL document; with its ServerMessage serialized
// once.
PreparedUpdatePtr PrepareUpdate(const PolicyContent& to, const PolicyContent* from);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_POLICY_CONTENT_H_
