#include "server/model/stored_policy.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "fleet/v1/canonical_json.h"

namespace fleet::server {

absl::StatusOr<StoredPolicy> ParseStoredPolicy(const storage::KeyValue& kv) {
  StoredPolicy stored;
  if (!stored.policy.ParseFromString(kv.value)) {
    return absl::DataLossError(absl::StrCat("stored revision ", kv.key, " does not parse"));
  }
  absl::StatusOr<nlohmann::json> spec =
      v1::ParseStoredJsonObject(stored.policy.spec_json(), "spec_json");
  if (!spec.ok()) {
    return absl::DataLossError(
        absl::StrCat("stored revision ", kv.key, ": ", spec.status().message()));
  }
  std::string canonical = v1::CanonicalJson(*spec);
  if (canonical != stored.policy.spec_json()) {  // written before RFC 8785
    stored.policy.set_sha256(v1::Sha256Hex(canonical));
    stored.policy.set_spec_json(std::move(canonical));
  }
  stored.spec = *std::move(spec);
  return stored;
}

}  // namespace fleet::server
