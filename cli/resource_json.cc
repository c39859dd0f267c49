#include "cli/resource_json.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/action_outcome.h"

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

nlohmann::ordered_json SpecToJson(const std::string& spec_json) {
  if (spec_json.empty()) return nullptr;
  nlohmann::ordered_json spec = nlohmann::ordered_json::parse(spec_json, nullptr, false);
  return spec.is_discarded() ? nlohmann::ordered_json(spec_json) : spec;
}

// A text fleetd leaves empty when there is none.
nlohmann::ordered_json TextOrNull(const std::string& text) {
  return text.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(text);
}

nlohmann::ordered_json TimestampToJson(const google::protobuf::Timestamp& time) {
  return TextOrNull(FormatTimestamp(time));
}

// Revisions start at 1: 0 is fleetd's "none" (not applied yet, not a rollback, a dry run).
nlohmann::ordered_json RevisionOrNull(int64_t revision) {
  return revision > 0 ? nlohmann::ordered_json(revision) : nlohmann::ordered_json(nullptr);
}

// protobuf's JSON form of a Duration: "600s", "1.500s".
std::string DurationToJson(const google::protobuf::Duration& duration) {
  if (duration.nanos() == 0) return absl::StrCat(duration.seconds(), "s");
  std::string nanos = absl::StrCat(std::abs(duration.nanos()));
  nanos.insert(0, 9 - nanos.size(), '0');
  while (nanos.size() > 3 && nanos.back() == '0') nanos.pop_back();
  return absl::StrCat(duration.seconds(), ".", nanos, "s");
}

// The first two members of every resource.
nlohmann::ordered_json Resource(const char* kind) {
  return {{"apiVersion", kApiVersion}, {"kind", kind}};
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

const std::map<std::string, v1::ActionState>& ActionStatesByName() {
  static const auto* const kStates =
      new std::map<std::string, v1::ActionState>{{"active", v1::ACTION_STATE_ACTIVE},
                                                 {"done", v1::ACTION_STATE_DONE},
                                                 {"cancelled", v1::ACTION_STATE_CANCELLED},
                                                 {"expired", v1::ACTION_STATE_EXPIRED}};
  return *kStates;
}

std::string ActionTargetStateName(v1::ActionTargetState state) {
  switch (state) {
    case v1::ACTION_TARGET_PENDING:
      return "pending";
    case v1::ACTION_TARGET_DELIVERED:
      return "delivered";
    case v1::ACTION_TARGET_RUNNING:
      return "running";
    case v1::ACTION_TARGET_SUCCEEDED:
      return "succeeded";
    case v1::ACTION_TARGET_FAILED:
      return "failed";
    case v1::ACTION_TARGET_REJECTED:
      return "rejected";
    case v1::ACTION_TARGET_EXPIRED:
      return "expired";
    case v1::ACTION_TARGET_CANCELLED:
      return "cancelled";
    default:
      return "unknown";
  }
}

std::string FormatTimestamp(const google::protobuf::Timestamp& time) {
  if (time.seconds() == 0 && time.nanos() == 0) return "";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(time.seconds()),
                          absl::UTCTimeZone());
}

nlohmann::ordered_json CreatorToJson(const v1::Creator& creator, const std::string& author) {
  std::string id = creator.token_id();
  std::string description = creator.description();
  if (id.empty()) {
    // The bootstrap admin token records "bootstrap": fleetd made it, no admin token did.
    if (author.empty() || author == "bootstrap") return nullptr;
    const size_t space = author.find(" (");
    id = author.substr(0, space);
    if (space != std::string::npos && author.ends_with(")")) {
      description = author.substr(space + 2, author.size() - space - 3);
    }
  }
  return {{"id", id}, {"description", TextOrNull(description)}};
}

nlohmann::ordered_json PolicyToJson(const v1::Policy& policy) {
  nlohmann::ordered_json json = Resource("Policy");
  json["metadata"] = {{"name", policy.name()},
                      {"description", TextOrNull(policy.description())},
                      {"labels", LabelsToJson(policy.labels())},
                      {"createdAt", TimestampToJson(policy.policy_created_at())},
                      {"updatedAt", TimestampToJson(policy.created_at())},
                      {"creator", CreatorToJson(policy.creator(), policy.author())}};
  if (!policy.spec_json().empty()) json["spec"] = SpecToJson(policy.spec_json());
  json["status"] = {{"revision", RevisionOrNull(policy.revision())},
                    {"sha256", TextOrNull(policy.sha256())},
                    {"storeRevision", RevisionOrNull(policy.store_revision())},
                    {"rolledBackFrom", RevisionOrNull(policy.rolled_back_from())}};
  return json;
}

nlohmann::ordered_json EnrollmentTokenToJson(const v1::EnrollmentToken& token) {
  nlohmann::ordered_json json = Resource("EnrollmentToken");
  json["metadata"] = {{"id", token.id()},
                      {"description", TextOrNull(token.description())},
                      {"createdAt", TimestampToJson(token.created_at())},
                      {"creator", CreatorToJson(token.creator(), token.created_by())}};
  json["spec"] = {
      {"policy", token.policy()},
      {"expiresAt", TimestampToJson(token.expires_at())},
      {"maxUses", token.max_uses() > 0 ? nlohmann::ordered_json(token.max_uses()) : nullptr}};
  json["status"] = {{"uses", token.uses()}, {"revoked", token.revoked()}};
  return json;
}

nlohmann::ordered_json AgentToJson(const v1::Agent& agent) {
  const bool nacked = agent.nacked_revision() > 0;
  nlohmann::ordered_json json = Resource("Agent");
  json["metadata"] = {{"id", agent.id()},
                      {"labels", LabelsToJson(agent.labels())},
                      {"createdAt", TimestampToJson(agent.enrolled_at())}};
  json["spec"] = {{"policy", agent.policy()}};
  json["status"] = {{"connection", agent.status() == v1::AGENT_STATUS_UNSPECIFIED
                                       ? nullptr
                                       : nlohmann::ordered_json(AgentStatusName(agent.status()))},
                    {"health", agent.health() == v1::AGENT_HEALTH_UNSPECIFIED
                                   ? nullptr
                                   : nlohmann::ordered_json(AgentHealthName(agent.health()))},
                    {"healthMessage", TextOrNull(agent.health_message())},
                    {"hostname", agent.hostname()},
                    {"os", TextOrNull(agent.os())},
                    {"arch", TextOrNull(agent.arch())},
                    {"agentVersion", TextOrNull(agent.agent_version())},
                    {"appliedRevision", RevisionOrNull(agent.applied_revision())},
                    {"nackedRevision", RevisionOrNull(agent.nacked_revision())},
                    {"nackReason", nacked ? TextOrNull(agent.nack_reason()) : nullptr},
                    {"lastSeen", TimestampToJson(agent.last_seen())},
                    {"enrollmentTokenId", TextOrNull(agent.enrollment_token_id())},
                    {"secretIssuedAt", TimestampToJson(agent.secret_issued_at())},
                    {"secretRotations", agent.secret_rotations()},
                    {"rotationRequestedAt", TimestampToJson(agent.rotation_requested_at())},
                    {"rotationPendingSince", TimestampToJson(agent.rotation_pending_since())}};
  return json;
}

nlohmann::ordered_json AdminTokenToJson(const v1::AdminToken& token) {
  nlohmann::ordered_json json = Resource("AdminToken");
  json["metadata"] = {{"id", token.id()},
                      {"description", TextOrNull(token.description())},
                      {"createdAt", TimestampToJson(token.created_at())},
                      {"creator", CreatorToJson(token.creator(), token.created_by())}};
  json["spec"] = {{"role", RoleName(token.role())}};
  return json;
}

nlohmann::ordered_json RolloutStatusToJson(const v1::RolloutStatus& status) {
  nlohmann::ordered_json json = Resource("RolloutStatus");
  json["metadata"] = {{"name", status.policy()}};
  json["spec"] = {{"revision", RevisionOrNull(status.revision())}};
  json["status"] = {{"latestRevision", RevisionOrNull(status.latest_revision())},
                    {"agents", status.agents()},
                    {"acked", status.acked()},
                    {"nacked", status.nacked()},
                    {"pending", status.pending()},
                    {"pendingOffline", status.pending_offline()},
                    {"offline", status.offline()},
                    {"complete", status.complete()}};
  return json;
}

nlohmann::ordered_json ActionToJson(const v1::Action& action) {
  nlohmann::ordered_json json = Resource("Action");
  json["metadata"] = {{"id", action.id()},
                      {"createdAt", TimestampToJson(action.created_at())},
                      {"creator", CreatorToJson(action.created_by(), "")}};
  nlohmann::ordered_json agent_ids = nlohmann::ordered_json::array();
  for (const std::string& id : action.targets().agent_ids()) agent_ids.push_back(id);
  const google::protobuf::Duration& rollout = action.rollout_duration();
  const bool has_rollout = rollout.seconds() != 0 || rollout.nanos() != 0;
  json["spec"] = {
      {"type", action.type()},
      {"arguments", action.arguments_json().empty() ? nlohmann::ordered_json::object()
                                                    : SpecToJson(action.arguments_json())},
      {"targets",
       {{"agentIds", std::move(agent_ids)},
        {"selector", TextOrNull(action.targets().selector())},
        {"policy", TextOrNull(action.targets().policy())}}},
      {"expiresAt", TimestampToJson(action.expires_at())},
      {"rolloutDuration", has_rollout ? nlohmann::ordered_json(DurationToJson(rollout)) : nullptr}};
  const v1::ActionCounts& counts = action.counts();
  json["status"] = {{"state", ActionStateOf(action)},
                    {"cancelledAt", TimestampToJson(action.cancelled_at())},
                    {"done", action.done()},
                    {"counts",
                     {{"targets", counts.targets()},
                      {"pending", counts.pending()},
                      {"delivered", counts.delivered()},
                      {"running", counts.running()},
                      {"succeeded", counts.succeeded()},
                      {"failed", counts.failed()},
                      {"rejected", counts.rejected()},
                      {"expired", counts.expired()},
                      {"cancelled", counts.cancelled()}}}};
  return json;
}

nlohmann::ordered_json ActionTargetToJson(const v1::ActionTarget& target) {
  return {{"agentId", target.agent_id()},
          {"hostname", TextOrNull(target.hostname())},
          {"state", ActionTargetStateName(target.state())},
          {"progressPercent", target.progress_percent()},
          {"message", TextOrNull(target.message())},
          {"output", TextOrNull(target.output())},
          {"updatedAt", TimestampToJson(target.updated_at())},
          {"startAt", TimestampToJson(target.start_at())}};
}

nlohmann::ordered_json WhoAmIToJson(const v1::WhoAmIResponse& whoami) {
  nlohmann::ordered_json json = Resource("WhoAmI");
  json["metadata"] = {{"id", whoami.token_id()}, {"description", TextOrNull(whoami.description())}};
  json["spec"] = {{"role", RoleName(whoami.role())}};
  return json;
}

nlohmann::ordered_json ListToJson(std::vector<nlohmann::ordered_json> items) {
  nlohmann::ordered_json json = Resource("List");
  json["items"] = nlohmann::ordered_json::array();
  for (nlohmann::ordered_json& item : items) json["items"].push_back(std::move(item));
  return json;
}

}  // namespace fleet::cli
