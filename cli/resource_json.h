// The JSON (and so YAML) shapes fleetctl prints for the admin API's messages: stable camelCase
// field names, every field present (null for an unset time or an absent spec), enums as
// lower-case words. A Policy prints as an apply-able document (see documents.h): kind,
// metadata and spec, plus a read-only `status` that apply ignores.
#ifndef FLEETD_CLI_RESOURCE_JSON_H_
#define FLEETD_CLI_RESOURCE_JSON_H_

#include <map>
#include <string>

#include "fleet/v1/admin.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {

// "admin", "operator", "viewer"; "unspecified" for anything else.
std::string RoleName(v1::Role role);
// "online", "offline"; "unknown" for anything else.
std::string AgentStatusName(v1::AgentStatus status);
// "healthy", "degraded", "error"; "unknown" for anything else.
std::string AgentHealthName(v1::AgentHealth health);

// The names --role and --status accept, for CLI11's CheckedTransformer.
const std::map<std::string, v1::Role>& RolesByName();
const std::map<std::string, v1::AgentStatus>& AgentStatusesByName();

// RFC 3339 in UTC to the second, e.g. "2024-05-01T10:00:00Z"; "" when unset (all zero).
std::string FormatTimestamp(const google::protobuf::Timestamp& time);

// {kind: Policy, metadata: {name, description}, spec, status: {revision, sha256, createdAt,
// author, storeRevision, rolledBackFrom}}. spec is the parsed spec_json, null when empty.
nlohmann::ordered_json PolicyToJson(const v1::Policy& policy);
nlohmann::ordered_json EnrollmentTokenToJson(const v1::EnrollmentToken& token);
nlohmann::ordered_json AgentToJson(const v1::Agent& agent);
nlohmann::ordered_json AdminTokenToJson(const v1::AdminToken& token);
nlohmann::ordered_json RolloutStatusToJson(const v1::RolloutStatus& status);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_RESOURCE_JSON_H_
