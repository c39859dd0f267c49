// The documents `fleetctl apply -f` reads: YAML (one or more documents separated by "---") or
// JSON (one document, or an array of them), each one of these kinds (apiVersion optional; when
// given, fleet/v1), in the shapes fleetctl prints (resource_json.h, docs/output.md):
//
//   apiVersion: fleet/v1
//   kind: Policy
//   metadata: {name: linux-servers, description: "...", labels: {env: prod}}  # optional but name
//   spec: {...any JSON object...}
//   status: {revision: 3, ...}   # optional (get -o yaml); revision: the expected revision
//
//   kind: EnrollmentToken
//   metadata: {description: "..."}                        # optional
//   spec: {policy: linux-servers, ttl: 24h, maxUses: 10}  # ttl and maxUses optional
//
//   kind: List
//   items: [...documents of the kinds above...]           # what get -o yaml prints for a list
//
// The read-only metadata fleetctl prints (createdAt, updatedAt, creator) and
// status (but for status.revision) are ignored. A printed EnrollmentToken (with metadata.id)
// is refused: applying it again would create another token.
#ifndef FLEETD_CLI_DOCUMENTS_H_
#define FLEETD_CLI_DOCUMENTS_H_

#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "fleet/v1/admin.pb.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {

// What one document asks for: ApplyPolicy (spec_json is the spec as compact JSON with sorted
// keys; expected_revision is status.revision when the document has one, else unset; dry_run
// unset) or CreateEnrollmentToken.
using Document = std::variant<v1::ApplyPolicyRequest, v1::CreateEnrollmentTokenRequest>;

// Parses and checks every document of `text`, JSON when it starts with "{" or "[", else YAML;
// `source` names it in messages (a path, or "stdin"). INVALID_ARGUMENT with one line
// "SOURCE:LINE: ..." for the first problem found: what ReadJsonDocuments or ReadYamlDocuments
// refuse (malformed text, ill-formed UTF-8, duplicate keys, inexact numbers, nesting deeper than
// fleetd allows, YAML aliases expanding too far), and, with the line the document starts on and
// "document N: ", a document that is not an object, an unknown kind, an unknown field at the
// top level or in metadata (or in an EnrollmentToken spec), a missing or non-string name, a spec
// that is not an object, a status.revision that is not a non-negative integer, a bad ttl or
// maxUses. "SOURCE: no documents" when there are none. Empty YAML documents are skipped. Never
// throws.
absl::StatusOr<std::vector<Document>> ParseDocuments(const std::string& text,
                                                     const std::string& source);

// The documents of `file` ("-": stdin) by ParseDocuments, which names it "stdin" or by its path.
// UNKNOWN, naming the file and the system error, when it cannot be read.
absl::StatusOr<std::vector<Document>> ReadDocuments(const std::string& file);

// Checks one document already in JSON form, not a List. INVALID_ARGUMENT as above, without the
// source; also for an apiVersion other than fleet/v1.
absl::StatusOr<Document> DocumentFromJson(const nlohmann::json& document);

// The documents of one document in JSON form: a List's items, in order, each by
// DocumentFromJson (the first bad one's message starts "items[N]: "; a List inside a List is
// refused), or the document itself.
absl::StatusOr<std::vector<Document>> DocumentsFromJson(const nlohmann::json& document);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_DOCUMENTS_H_
