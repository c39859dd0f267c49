#include "server/control/policy_content.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "fleet/v1/admin.pb.h"
#include "fleet/v1/canonical_json.h"
#include "google/protobuf/util/time_util.h"
#include "server/model/stored_policy.h"

namespace fleet::server {

using google::protobuf::util::TimeUtil;

absl::StatusOr<PolicyContentPtr> ParsePolicyContent(const storage::KeyValue& kv) {
  absl::StatusOr<StoredPolicy> stored = ParseStoredPolicy(kv);
  if (!stored.ok()) return stored.status();
  v1::Policy& policy = stored->policy;
  // Only a revision accepted before the limit applied to the canonical form can be bigger; sent,
  // it would break agent.proto's bound on messages.
  if (policy.spec_json().size() > v1::kMaxSpecBytes) {
    return absl::DataLossError(absl::StrCat("stored revision ", kv.key, " is ",
                                            policy.spec_json().size(),
                                            " bytes in canonical form (RFC 8785); the limit is ",
                                            v1::kMaxSpecBytes, ": apply a smaller spec"));
  }
  return std::make_shared<const PolicyContent>(PolicyContent{
      .policy = policy.name(),
      .revision = policy.revision(),
      .spec = std::move(stored->spec),
      .canonical = std::move(*policy.mutable_spec_json()),
      .sha256 = policy.sha256(),
      .commit_time = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(policy.created_at()))});
}

PreparedUpdatePtr PrepareUpdate(const PolicyContent& to, const PolicyContent* from) {
  auto prepared = std::make_shared<PreparedUpdate>();
  v1::PolicyUpdate& update = prepared->update;
  update.set_policy(to.policy);
  update.set_target_revision(to.revision);
  update.set_sha256(to.sha256);
  *update.mutable_commit_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(to.commit_time));
  std::string patch;
  if (from != nullptr) patch = v1::CanonicalJson(nlohmann::json::diff(from->spec, to.spec));
  // A patch can be many times the document (every element of a big array changed): then the
  // document is the smaller message, and agent.proto's bound on messages holds.
  if (from != nullptr && patch.size() < to.canonical.size()) {
    update.set_kind(v1::PolicyUpdate::DELTA);
    update.set_base_revision(from->revision);
    update.set_patch_json(std::move(patch));
  } else {
    update.set_kind(v1::PolicyUpdate::FULL);
    update.set_document_json(to.canonical);
  }
  v1::ServerMessage message;
  *message.mutable_policy_update() = update;
  prepared->serialized_message = message.SerializeAsString();
  return prepared;
}

}  // namespace fleet::server
