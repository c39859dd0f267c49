// How fleetctl prints the admin API's resources: tables for people (-o table) and the JSON
// shapes of resource_json.h for scripts (-o json, -o yaml).
#ifndef FLEETD_CLI_RESOURCE_TABLES_H_
#define FLEETD_CLI_RESOURCE_TABLES_H_

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "cli/output.h"
#include "cli/resource_json.h"
#include "fleet/v1/admin.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {

template <typename T>
using Items = google::protobuf::RepeatedPtrField<T>;

// NAME  REVISION  SHA256  UPDATED  AUTHOR  DESCRIPTION (the SHA-256's first 12 characters).
void WritePolicyTable(const Items<v1::Policy>& policies, std::ostream& out);
// REVISION  SHA256  CREATED  AUTHOR  ROLLBACK-OF  DESCRIPTION.
void WritePolicyHistoryTable(const Items<v1::Policy>& revisions, std::ostream& out);
// ID  POLICY  USES  EXPIRES  STATE  CREATED-BY  DESCRIPTION.
void WriteEnrollmentTokenTable(const Items<v1::EnrollmentToken>& tokens, std::ostream& out);
// ID  HOSTNAME  POLICY  REVISION  STATUS  HEALTH  LAST-SEEN  LABELS.
void WriteAgentTable(const Items<v1::Agent>& agents, std::ostream& out);
// ID  ROLE  CREATED  CREATED-BY  DESCRIPTION.
void WriteAdminTokenTable(const Items<v1::AdminToken>& tokens, std::ostream& out);

// "Label:  value" lines about one policy, then its spec as indented, pretty JSON.
void DescribePolicy(const v1::Policy& policy, std::ostream& out);
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
