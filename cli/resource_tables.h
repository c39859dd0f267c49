// How fleetctl prints the admin API's resources: tables for people (-o table, wide, name) and the
// JSON shapes of resource_json.h for scripts (-o json, -o yaml).
#ifndef FLEETD_CLI_RESOURCE_TABLES_H_
#define FLEETD_CLI_RESOURCE_TABLES_H_

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "cli/output.h"
#include "cli/resource_json.h"
#include "cli/table_spec.h"
#include "fleet/v1/admin.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {

template <typename T>
using Items = google::protobuf::RepeatedPtrField<T>;

// A row of `get policies`: a policy's latest revision and how far it rolled out (from
// ListPoliciesResponse.rollouts or GetRolloutStatus; absent: its cells show "-").
struct PolicyRow {
  v1::Policy policy;
  std::optional<v1::RolloutStatus> rollout;
};

// The tables of `get` (README.md lists them). Policies by name, agents by hostname, tokens by
// creation (oldest first) unless --sort-by says otherwise.
//   policies:     NAME REVISION AGENTS ACKED NACKED PENDING UPDATED DESCRIPTION
//                 + wide: OFFLINE SHA256 AUTHOR
//   agents:       ID HOSTNAME POLICY REVISION NACKED STATUS HEALTH LAST-SEEN AGE LABELS
//                 + wide: OS ARCH VERSION TOKEN NACK-REASON MESSAGE
//   tokens:       ID POLICY USES EXPIRES STATE CREATED-BY AGE DESCRIPTION
//   admin-tokens: ID ROLE CREATED-BY AGE DESCRIPTION
//   actions:      ID TYPE STATE TARGETS SUCCEEDED FAILED PENDING RUNNING AGE
//                 + wide: DELIVERED REJECTED EXPIRED CANCELLED EXPIRES ROLLOUT CREATED-BY
//                 (the eight state columns of -o wide add up to TARGETS)
// UPDATED, LAST-SEEN and AGE are ages (HumanDuration); sorting by them puts the oldest first.
// Actions sort by AGE, oldest first.
const TableSpec<PolicyRow>& PolicyTable();
const TableSpec<v1::Agent>& AgentTable();
const TableSpec<v1::EnrollmentToken>& EnrollmentTokenTable();
const TableSpec<v1::AdminToken>& AdminTokenTable();
const TableSpec<v1::Action>& ActionTable();

// The tables above for PrintList and PrintOne (policies without rollout counts), ages relative
// to now.
void WritePolicyTable(const Items<v1::Policy>& policies, std::ostream& out);
void WriteEnrollmentTokenTable(const Items<v1::EnrollmentToken>& tokens, std::ostream& out);
void WriteAgentTable(const Items<v1::Agent>& agents, std::ostream& out);
void WriteAdminTokenTable(const Items<v1::AdminToken>& tokens, std::ostream& out);
void WriteActionTable(const Items<v1::Action>& actions, std::ostream& out);
// REVISION  SHA256  CREATED  AUTHOR  ROLLBACK-OF  DESCRIPTION.
void WritePolicyHistoryTable(const Items<v1::Policy>& revisions, std::ostream& out);

// What `describe policy` shows besides the policy: its rollout, its newest revisions (newest
// first) and its enrollment tokens.
struct PolicyDetail {
  v1::Policy policy;
  v1::RolloutStatus rollout;
  std::vector<v1::Policy> revisions;
  std::vector<v1::EnrollmentToken> tokens;
};

// "Label:  value" lines about one policy and its rollout, its spec as indented, pretty JSON, then
// tables of `detail`'s revisions and tokens (or "<none>"), ages relative to `now`.
void DescribePolicy(const PolicyDetail& detail, absl::Time now, std::ostream& out);
// What `describe action` shows besides the action: its targets that have not succeeded (problems
// first: failed, rejected, expired, cancelled, then running, delivered, pending), at most as many
// as were asked for, and how many more there are.
struct ActionDetail {
  v1::Action action;
  std::vector<v1::ActionTarget> targets;
  int64_t more_targets = 0;  // not succeeded and not in `targets`
};

// "Label:  value" lines about one action and its counts, then a table of `detail`'s targets
// (AGENT HOSTNAME STATE PROGRESS UPDATED MESSAGE) or "<none>", ages relative to `now`.
void DescribeAction(const ActionDetail& detail, absl::Time now, std::ostream& out);
// "Label:  value" lines about one agent.
void DescribeAgent(const v1::Agent& agent, std::ostream& out);

// What a command that changed one thing prints: "KIND/ID VERB" (-o table, KIND lower-cased),
// else {kind: KIND, id: ID, result: VERB}.
void PrintResult(OutputFormat format, const std::string& kind, const std::string& id,
                 const std::string& verb, std::ostream& out);

// What a command that created a secret prints: -o table, the secret alone on `out` (so that
// `$(fleetctl token create ...)` is the secret) and `note` on stderr; else {token, secret}.
void PrintSecret(OutputFormat format, nlohmann::ordered_json token, const std::string& secret,
                 const std::string& note, std::ostream& out);

// 9812 -> "9,812".
std::string WithThousands(int64_t value);

// Prints `items` in `format`: with write_table, or as a JSON/YAML List (ListToJson) of
// to_json(item).
template <typename T>
void PrintList(OutputFormat format, const Items<T>& items,
               nlohmann::ordered_json (*to_json)(const T&),
               void (*write_table)(const Items<T>&, std::ostream&), std::ostream& out) {
  if (format == OutputFormat::kTable) {
    write_table(items, out);
    return;
  }
  std::vector<nlohmann::ordered_json> json;
  for (const T& item : items) json.push_back(to_json(item));
  WriteStructured(ListToJson(std::move(json)), format, out);
}

// Prints one item: a one-row table, or one JSON/YAML object.
template <typename T>
void PrintOne(OutputFormat format, const T& item, nlohmann::ordered_json (*to_json)(const T&),
              void (*write_table)(const Items<T>&, std::ostream&), std::ostream& out) {
  if (format != OutputFormat::kTable) {
    WriteStructured(to_json(item), format, out);
    return;
  }
  Items<T> items;
  *items.Add() = item;
  write_table(items, out);
}

}  // namespace fleet::cli

#endif  // FLEETD_CLI_RESOURCE_TABLES_H_
