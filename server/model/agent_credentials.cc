#include "server/model/agent_credentials.h"

#include <string>

#include "google/protobuf/util/time_util.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;

absl::Time FromProto(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(timestamp));
}

google::protobuf::Timestamp ToProto(absl::Time time) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(time));
}

}  // namespace

absl::Time SecretIssuedAt(const v1::Agent& agent) {
  return FromProto(agent.has_secret_issued_at() ? agent.secret_issued_at() : agent.enrolled_at());
}

void ShowSecretIssuedAt(v1::Agent& agent) {
  if (!agent.has_secret_issued_at() && agent.has_enrolled_at()) {
    *agent.mutable_secret_issued_at() = agent.enrolled_at();
  }
}

bool RotationDue(const record::AgentRecord& record, absl::Time now, absl::Duration max_age) {
  if (record.agent().has_rotation_requested_at()) return true;
  return max_age > absl::ZeroDuration() && now - SecretIssuedAt(record.agent()) >= max_age;
}

void RequestRotation(record::AgentRecord& record, absl::Time now) {
  *record.mutable_agent()->mutable_rotation_requested_at() = ToProto(now);
}

void StartRotation(record::AgentRecord& record, std::string_view pending_sha256, absl::Time now) {
  record.set_pending_secret_sha256(std::string(pending_sha256));
  *record.mutable_agent()->mutable_rotation_pending_since() = ToProto(now);
}

absl::Status PromotePending(record::AgentRecord& record, std::string_view pending_sha256,
                            absl::Time now) {
  if (record.pending_secret_sha256().empty() || record.pending_secret_sha256() != pending_sha256) {
    return absl::FailedPreconditionError("that secret is not the agent's pending secret");
  }
  v1::Agent& agent = *record.mutable_agent();
  // A request made while this rotation was pending asks for the next one.
  if (agent.has_rotation_requested_at() &&
      (!agent.has_rotation_pending_since() ||
       FromProto(agent.rotation_requested_at()) <= FromProto(agent.rotation_pending_since()))) {
    agent.clear_rotation_requested_at();
  }
  record.set_secret_sha256(record.pending_secret_sha256());
  record.clear_pending_secret_sha256();
  agent.clear_rotation_pending_since();
  *agent.mutable_secret_issued_at() = ToProto(now);
  agent.set_secret_rotations(agent.secret_rotations() + 1);
  return absl::OkStatus();
}

}  // namespace fleet::server
