#include "server/control/policy_content.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "fleet/v1/admin.pb.h"
#include "google/protobuf/util/time_util.h"
#include "server/control/json_footprint.h"

namespace fleet::server {

using google::protobuf::util::TimeUtil;

absl::StatusOr<PolicyContentPtr> ParsePolicyContent(const storage::KeyValue& kv) {
  v1::Policy stored;
  if (!stored.ParseFromString(kv.value)) {
    return absl::DataLossError(absl::StrCat("stored revision ", kv.key, " does not parse"));
  }
  nlohmann::json spec = nlohmann::json::parse(stored.spec_json(), nullptr, false);
  if (spec.is_discarded()) {
    return absl::DataLossError(absl::StrCat("stored revision ", kv.key, " is not JSON"));
  }
  auto content = std::make_shared<PolicyContent>(PolicyContent{
      .policy = stored.name(),
      .revision = stored.revision(),
      .spec = std::move(spec),
      .canonical = stored.spec_json(),
      .sha256 = stored.sha256(),
      .commit_time = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(stored.created_at()))});
  content->memory_bytes = static_cast<int64_t>(
      sizeof(PolicyContent) + JsonFootprint(content->spec) - sizeof(nlohmann::json) +
      content->policy.capacity() + content->canonical.capacity() + content->sha256.capacity());
  return content;
}

PreparedUpdatePtr PrepareUpdate(const PolicyContent& to, const PolicyContent* from) {
  auto prepared = std::make_shared<PreparedUpdate>();
  v1::PolicyUpdate& update = prepared->update;
  update.set_policy(to.policy);
  update.set_target_revision(to.revision);
  update.set_sha256(to.sha256);
  *update.mutable_commit_time() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(to.commit_time));
  if (from != nullptr) {
    update.set_kind(v1::PolicyUpdate::DELTA);
    update.set_base_revision(from->revision);
    update.set_patch_json(nlohmann::json::diff(from->spec, to.spec).dump());
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
