#include "cli/resource_json.h"

#include "absl/time/time.h"

namespace fleet::cli {
namespace {

// Labels as an object, keys sorted: the proto map has no order, and the output should be stable.
nlohmann::ordered_json LabelsToJson(const google::protobuf::Map<std::string, std::string>& labels) {
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  for (const auto& [key, value] :
       std::map<std::string, std::string>(labels.begin(), labels.end())) {
    json[key] = value;
  }
  return json;
}

nlohmann::ordered_json TimestampToJson(const google::protobuf::Timestamp& time) {
  const std::string text = FormatTimestamp(time);
  return text.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(text);
}

nlohmann::ordered_json SpecToJson(const std::string& spec_json) {
  if (spec_json.empty()) return nullptr;
  nlohmann::ordered_json spec = nlohmann::ordered_json::parse(spec_json, nullptr, false);
  return spec.is_discarded() ? nlohmann::ordered_json(spec_json) : spec;
}

}  // namespace

std::string RoleName(v1::Role role) {
  for (const auto& [name, value] : RolesByName()) {
    if (value == role) return name;
  }
  return "unspecified";
}

std::string AgentStatusName(v1::AgentStatus status) {
  for (const auto& [name, value] : AgentStatusesByName()) {
    if (value == status) return name;
  }
  return "unknown";
}

std::string AgentHealthName(v1::AgentHealth health) {
  switch (health) {
    case v1::AGENT_HEALTH_HEALTHY:
      return "healthy";
    case v1::AGENT_HEALTH_DEGRADED:
      return "degraded";
    case v1::AGENT_HEALTH_ERROR:
      return "error";
    default:
      return "unknown";
  }
}

const std::map<std::string, v1::Role>& RolesByName() {
  static const auto* const kRoles = new std::map<std::string, v1::Role>{
      {"admin", v1::ROLE_ADMIN}, {"operator", v1::ROLE_OPERATOR}, {"viewer", v1::ROLE_VIEWER}};
  return *kRoles;
}

const std::map<std::string, v1::AgentStatus>& AgentStatusesByName() {
  static const auto* const kStatuses = new std::map<std::string, v1::AgentStatus>{
      {"online", v1::AGENT_STATUS_ONLINE}, {"offline", v1::AGENT_STATUS_OFFLINE}};
  return *kStatuses;
}

std::string FormatTimestamp(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(time.seconds()),
                          absl::UTCTimeZone());
}

nlohmann::ordered_json PolicyToJson(const v1::Policy& policy) {
  return {{"kind", "Policy"},
          {"metadata",
           {{"name", policy.name()},
            {"description", policy.description()},
            {"labels", LabelsToJson(policy.labels())}}},
          {"spec", SpecToJson(policy.spec_json())},
          {"status",
           {{"revision", policy.revision()},
            {"sha256", policy.sha256()},
            {"createdAt", TimestampToJson(policy.created_at())},
            {"author", policy.author()},
            {"storeRevision", policy.store_revision()},
            {"rolledBackFrom", policy.rolled_back_from()}}}};
}

nlohmann::ordered_json EnrollmentTokenToJson(const v1::EnrollmentToken& token) {
  return {{"id", token.id()},
          {"policy", token.policy()},
          {"description", token.description()},
          {"createdAt", TimestampToJson(token.created_at())},
          {"expiresAt", TimestampToJson(token.expires_at())},
          {"maxUses", token.max_uses()},
          {"uses", token.uses()},
          {"createdBy", token.created_by()},
          {"revoked", token.revoked()}};
}

nlohmann::ordered_json AgentToJson(const v1::Agent& agent) {
  nlohmann::ordered_json labels = LabelsToJson(agent.labels());
  return {{"id", agent.id()},
          {"hostname", agent.hostname()},
          {"os", agent.os()},
          {"arch", agent.arch()},
          {"agentVersion", agent.agent_version()},
          {"labels", labels},
          {"policy", agent.policy()},
          {"appliedRevision", agent.applied_revision()},
          {"status", AgentStatusName(agent.status())},
          {"health", AgentHealthName(agent.health())},
          {"healthMessage", agent.health_message()},
          {"enrolledAt", TimestampToJson(agent.enrolled_at())},
          {"lastSeen", TimestampToJson(agent.last_seen())},
          {"nackedRevision", agent.nacked_revision()},
          {"nackReason", agent.nack_reason()},
          {"enrollmentTokenId", agent.enrollment_token_id()},
          {"secretIssuedAt", TimestampToJson(agent.secret_issued_at())},
          {"rotationRequestedAt", TimestampToJson(agent.rotation_requested_at())},
          {"rotationPendingSince", TimestampToJson(agent.rotation_pending_since())},
          {"secretRotations", agent.secret_rotations()}};
}

nlohmann::ordered_json AdminTokenToJson(const v1::AdminToken& token) {
  return {{"id", token.id()},
          {"role", RoleName(token.role())},
          {"description", token.description()},
          {"createdAt", TimestampToJson(token.created_at())},
          {"createdBy", token.created_by()}};
}

nlohmann::ordered_json RolloutStatusToJson(const v1::RolloutStatus& status) {
  return {{"policy", status.policy()},
          {"revision", status.revision()},
          {"latestRevision", status.latest_revision()},
          {"agents", status.agents()},
          {"acked", status.acked()},
          {"nacked", status.nacked()},
          {"pending", status.pending()},
          {"pendingOffline", status.pending_offline()},
          {"offline", status.offline()},
          {"complete", status.complete()}};
}

}  // namespace fleet::cli
