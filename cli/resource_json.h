// The JSON (and so YAML) shapes fleetctl prints for the admin API's resources, one shape for
// every kind (docs/output.md describes each with an example):
//
//   apiVersion: fleet/v1
//   kind: Policy | EnrollmentToken | Agent | AdminToken | RolloutStatus | WhoAmI | Action
//   metadata: {name or id, description, labels, createdAt, updatedAt, creator: {id, description}}
//   spec:     what the operator sets
//   status:   what fleetd observes
//
// Each kind prints every field it has, null when fleetd has no value for it (an unset time, a
// revision not reached yet, an empty text): never 0 or "" standing for "none". A field a kind
// does not have is absent. Counts fleetd knows are numbers, 0 included. Enums are lower-case
// words; times are RFC 3339 in UTC to the second. Object keys come in a fixed order and labels
// are sorted, so output is stable. A list is {apiVersion: fleet/v1, kind: List, items: [...]}.
// A Policy prints as a document `fleetctl apply -f` takes back (documents.h): apply ignores
// status and the read-only metadata, and takes status.revision as the expected revision.
#ifndef FLEETD_CLI_RESOURCE_JSON_H_
#define FLEETD_CLI_RESOURCE_JSON_H_

#include <map>
#include <string>
#include <vector>

#include "fleet/v1/admin.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {

// The apiVersion every printed resource carries and `fleetctl apply` accepts.
inline constexpr char kApiVersion[] = "fleet/v1";

// "admin", "operator", "viewer"; "unspecified" for anything else.
std::string RoleName(v1::Role role);
// "online", "offline"; "unknown" for anything else.
std::string AgentStatusName(v1::AgentStatus status);
// "healthy", "degraded", "error"; "unknown" for anything else.
std::string AgentHealthName(v1::AgentHealth health);

// The names --role and the connection statuses take (flag_values.h NamedValues).
const std::map<std::string, v1::Role>& RolesByName();
const std::map<std::string, v1::AgentStatus>& AgentStatusesByName();
// "active", "done", "cancelled", "expired": what `get actions --state` takes.
const std::map<std::string, v1::ActionState>& ActionStatesByName();
// "pending", "delivered", "running", "succeeded", "failed", "rejected", "expired", "cancelled";
// "unknown" for anything else.
std::string ActionTargetStateName(v1::ActionTargetState state);

// RFC 3339 in UTC to the second, e.g. "2024-05-01T10:00:00Z"; "" when unset (all zero).
std::string FormatTimestamp(const google::protobuf::Timestamp& time);

// Who created a record, as {id, description} (description null when the token had none); null
// when no admin token did (the bootstrap admin token, which fleetd made) or fleetd did not say.
// Taken from `creator` when fleetd sent one, else from the "ID (DESCRIPTION)" text older fleetd
// versions recorded in `author` (admin token ids hold no space, so the split is unambiguous).
nlohmann::ordered_json CreatorToJson(const v1::Creator& creator, const std::string& author);

// metadata {name, description, labels, createdAt (the policy's first revision, null when fleetd
// did not record it), updatedAt (this revision), creator (who committed this revision)}, spec
// (the parsed spec_json; absent when the answer carried none, as in ListPolicies and
// GetPolicyHistory), status {revision, sha256, storeRevision, rolledBackFrom}.
nlohmann::ordered_json PolicyToJson(const v1::Policy& policy);
// metadata {id, description, createdAt, creator}, spec {policy, expiresAt, maxUses},
// status {uses, revoked}.
nlohmann::ordered_json EnrollmentTokenToJson(const v1::EnrollmentToken& token);
// metadata {id, labels, createdAt (enrollment)}, spec {policy}, status {connection, health,
// healthMessage, hostname, os, arch, agentVersion, appliedRevision, nackedRevision, nackReason,
// lastSeen, enrollmentTokenId, secretIssuedAt, secretRotations, rotationRequestedAt,
// rotationPendingSince}.
nlohmann::ordered_json AgentToJson(const v1::Agent& agent);
// metadata {id, description, createdAt, creator}, spec {role}.
nlohmann::ordered_json AdminTokenToJson(const v1::AdminToken& token);
// metadata {name: the policy}, spec {revision: the revision asked about}, status
// {latestRevision, agents, acked, nacked, pending, pendingOffline, offline, complete}.
nlohmann::ordered_json RolloutStatusToJson(const v1::RolloutStatus& status);
// metadata {id, createdAt, creator}, spec {type, arguments (the parsed arguments_json object),
// targets {agentIds, selector, policy}, expiresAt, rolloutDuration (protobuf's JSON form,
// "600s"; null for none)}, status {state (ActionStateOf, action_outcome.h),
// cancelledAt, done, counts {targets, pending, delivered, running, succeeded, failed, rejected,
// expired, cancelled}}.
nlohmann::ordered_json ActionToJson(const v1::Action& action);
// {agentId, hostname, state, progressPercent, message, output, updatedAt, startAt}: one target of
// an action, as `describe action -o json` lists them under status.targets (not a kind of its
// own).
nlohmann::ordered_json ActionTargetToJson(const v1::ActionTarget& target);
// metadata {id: the calling token's id, description}, spec {role}.
nlohmann::ordered_json WhoAmIToJson(const v1::WhoAmIResponse& whoami);

// {apiVersion: fleet/v1, kind: List, items}, as kubectl prints a list.
nlohmann::ordered_json ListToJson(std::vector<nlohmann::ordered_json> items);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_RESOURCE_JSON_H_
