#include "cli/documents.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/duration.h"
#include "cli/json_documents.h"
#include "cli/resource_json.h"
#include "cli/yaml_json.h"
#include "common/utf8.h"
#include "fleet/v1/canonical_json.h"

namespace fleet::cli {
namespace {

using Json = nlohmann::json;

// OK when every key of `object` (named `where` in messages) is one of `known`.
absl::Status CheckFields(const Json& object, std::initializer_list<std::string> known,
                         const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown field ", QuoteForError(key), " in ",
                                                     where, " (known: ", absl::StrJoin(known, ", "),
                                                     ")"));
    }
  }
  return absl::OkStatus();
}

// `object[key]` as a string; "" when absent and not `required`.
absl::StatusOr<std::string> StringField(const Json& object, const std::string& key,
                                        const std::string& path, bool required) {
  if (!object.contains(key) || object[key].is_null()) {
    if (!required) return "";
    return absl::InvalidArgumentError(absl::StrCat(path, " is required"));
  }
  if (!object[key].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " must be a string"));
  }
  return object[key].get<std::string>();
}

// `document[key]` as an object: {} when absent and not `required`.
absl::StatusOr<Json> ObjectField(const Json& document, const std::string& key, bool required) {
  if (!document.contains(key) || document[key].is_null()) {
    if (!required) return Json::object();
    return absl::InvalidArgumentError(absl::StrCat(key, " is required (an object)"));
  }
  if (!document[key].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(key, " must be an object"));
  }
  return document[key];
}

// status.revision, when the document has one (an export: `fleetctl get policy NAME -o yaml`), as
// the expected revision (0: the policy must not exist yet), so that applying an edited old export
// cannot overwrite a newer revision.
absl::Status SetExpectedRevision(const Json& document, v1::ApplyPolicyRequest& request) {
  if (!document.contains("status") || document["status"].is_null()) return absl::OkStatus();
  const Json& status = document["status"];
  if (!status.is_object()) return absl::InvalidArgumentError("status must be an object");
  if (!status.contains("revision") || status["revision"].is_null()) return absl::OkStatus();
  const Json& revision = status["revision"];
  if (!revision.is_number_integer() || revision.get<int64_t>() < 0) {
    return absl::InvalidArgumentError(
        "status.revision must be a non-negative integer (0: the policy must not exist yet)");
  }
  request.set_expected_revision(revision.get<int64_t>());
  return absl::OkStatus();
}

// metadata.labels, an object of strings; fleetd checks the keys and values.
absl::Status SetLabels(const Json& metadata, v1::ApplyPolicyRequest& request) {
  if (!metadata.contains("labels") || metadata["labels"].is_null()) return absl::OkStatus();
  if (!metadata["labels"].is_object()) {
    return absl::InvalidArgumentError("metadata.labels must be an object of strings");
  }
  for (const auto& [key, value] : metadata["labels"].items()) {
    if (!value.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata.labels.", key, " must be a string (quote it)"));
    }
    (*request.mutable_labels())[key] = value.get<std::string>();
  }
  return absl::OkStatus();
}

absl::StatusOr<Document> PolicyFromJson(const Json& document) {
  absl::StatusOr<Json> metadata = ObjectField(document, "metadata", true);
  if (!metadata.ok()) return metadata.status();
  // createdAt, updatedAt and creator are what `get -o yaml` prints; fleetd sets them.
  if (absl::Status fields = CheckFields(
          *metadata, {"name", "description", "labels", "createdAt", "updatedAt", "creator"},
          "metadata");
      !fields.ok()) {
    return fields;
  }
  absl::StatusOr<std::string> name = StringField(*metadata, "name", "metadata.name", true);
  if (!name.ok()) return name.status();
  if (name->empty()) return absl::InvalidArgumentError("metadata.name is required");
  absl::StatusOr<std::string> description =
      StringField(*metadata, "description", "metadata.description", false);
  if (!description.ok()) return description.status();
  absl::StatusOr<Json> spec = ObjectField(document, "spec", true);
  if (!spec.ok()) return spec.status();
  v1::ApplyPolicyRequest request;
  if (absl::Status revision = SetExpectedRevision(document, request); !revision.ok()) {
    return revision;
  }
  request.set_name(*name);
  request.set_description(*description);
  if (absl::Status labels = SetLabels(*metadata, request); !labels.ok()) return labels;
  std::string spec_json;
  try {
    // The readers refused ill-formed UTF-8 and too deep nesting; dump() cannot throw on what
    // they return, but a document built elsewhere must not abort the process either.
    spec_json = spec->dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::strict);
  } catch (const Json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("spec cannot be written as JSON: ", e.what()));
  }
  // fleetd's own check, so that nothing it would refuse is sent: the readers named the line of
  // what they refused; this catches the rest (a canonical form over 1 MiB).
  if (absl::StatusOr<v1::CanonicalSpec> accepted = v1::ParseCanonicalSpec(spec_json, "spec");
      !accepted.ok()) {
    return absl::InvalidArgumentError(accepted.status().message());
  }
  request.set_spec_json(std::move(spec_json));
  return request;
}

absl::Status SetTtl(const Json& spec, v1::CreateEnrollmentTokenRequest& request) {
  absl::StatusOr<std::string> text = StringField(spec, "ttl", "spec.ttl", false);
  if (!text.ok()) return text.status();
  if (text->empty()) return absl::OkStatus();
  absl::StatusOr<absl::Duration> ttl = ParseDuration(*text);
  if (!ttl.ok())
    return absl::InvalidArgumentError(absl::StrCat("spec.ttl: ", ttl.status().message()));
  *request.mutable_ttl() = ToProto(*ttl);
  return absl::OkStatus();
}

absl::Status SetMaxUses(const Json& spec, v1::CreateEnrollmentTokenRequest& request) {
  if (!spec.contains("maxUses") || spec["maxUses"].is_null()) return absl::OkStatus();
  const Json& max_uses = spec["maxUses"];
  if (!max_uses.is_number_integer() || max_uses.get<int64_t>() < 0) {
    return absl::InvalidArgumentError("spec.maxUses must be a non-negative integer (0: unlimited)");
  }
  request.set_max_uses(max_uses.get<int64_t>());
  return absl::OkStatus();
}

absl::StatusOr<Document> EnrollmentTokenFromJson(const Json& document) {
  absl::StatusOr<Json> metadata = ObjectField(document, "metadata", false);
  if (!metadata.ok()) return metadata.status();
  if (absl::Status fields =
          CheckFields(*metadata, {"description", "id", "createdAt", "creator"}, "metadata");
      !fields.ok()) {
    return fields;
  }
  // What `get tokens -o yaml` printed: applying it again would mint another token.
  if (metadata->contains("id") && !(*metadata)["id"].is_null()) {
    return absl::InvalidArgumentError(
        "metadata.id: enrollment tokens cannot be changed, only created; remove metadata.id to "
        "create a new token");
  }
  absl::StatusOr<Json> spec = ObjectField(document, "spec", true);
  if (!spec.ok()) return spec.status();
  if (absl::Status fields = CheckFields(*spec, {"policy", "ttl", "maxUses"}, "spec");
      !fields.ok()) {
    return fields;
  }
  v1::CreateEnrollmentTokenRequest request;
  absl::StatusOr<std::string> description =
      StringField(*metadata, "description", "metadata.description", false);
  if (!description.ok()) return description.status();
  request.set_description(*description);
  absl::StatusOr<std::string> policy = StringField(*spec, "policy", "spec.policy", true);
  if (!policy.ok()) return policy.status();
  request.set_policy(*policy);
  if (absl::Status ttl = SetTtl(*spec, request); !ttl.ok()) return ttl;
  if (absl::Status max_uses = SetMaxUses(*spec, request); !max_uses.ok()) return max_uses;
  return request;
}

bool LooksLikeJson(const std::string& text) {
  const size_t first = text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && (text[first] == '{' || text[first] == '[');
}

bool IsList(const Json& document) {
  return document.is_object() && document.contains("kind") && document["kind"] == "List";
}

// OK for apiVersion fleet/v1, or none (documents written before fleetctl printed one).
absl::Status CheckApiVersion(const Json& document) {
  absl::StatusOr<std::string> version = StringField(document, "apiVersion", "apiVersion", false);
  if (!version.ok()) return version.status();
  if (version->empty() || *version == kApiVersion) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("apiVersion ", QuoteForError(*version),
                                                 " is not supported (fleetctl reads ", kApiVersion,
                                                 ")"));
}

// The items of a List (what `fleetctl get ... -o yaml` prints for several resources), each
// checked as a document of its own; "items[N]: " before the first item's problem.
absl::StatusOr<std::vector<Document>> ListItemsFromJson(const Json& document) {
  if (absl::Status fields =
          CheckFields(document, {"apiVersion", "kind", "metadata", "items"}, "the List");
      !fields.ok()) {
    return fields;
  }
  if (!document.contains("items") || document["items"].is_null()) return std::vector<Document>();
  if (!document["items"].is_array()) return absl::InvalidArgumentError("items must be a list");
  std::vector<Document> documents;
  const Json& items = document["items"];
  for (size_t i = 0; i < items.size(); ++i) {
    if (IsList(items[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("items[", i, "]: a List inside a List is not supported"));
    }
    absl::StatusOr<Document> item = DocumentFromJson(items[i]);
    if (!item.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("items[", i, "]: ", item.status().message()));
    }
    documents.push_back(*std::move(item));
  }
  return documents;
}

}  // namespace

absl::StatusOr<Document> DocumentFromJson(const Json& document) {
  if (!document.is_object()) return absl::InvalidArgumentError("not an object");
  if (absl::Status fields = CheckFields(
          document, {"apiVersion", "kind", "metadata", "spec", "status"}, "the document");
      !fields.ok()) {
    return fields;
  }
  if (absl::Status version = CheckApiVersion(document); !version.ok()) return version;
  absl::StatusOr<std::string> kind = StringField(document, "kind", "kind", true);
  if (!kind.ok()) return kind.status();
  if (*kind == "Policy") return PolicyFromJson(document);
  if (*kind == "EnrollmentToken") return EnrollmentTokenFromJson(document);
  return absl::InvalidArgumentError(absl::StrCat("unknown kind ", QuoteForError(*kind),
                                                 " (known: Policy, EnrollmentToken, List)"));
}

absl::StatusOr<std::vector<Document>> DocumentsFromJson(const Json& document) {
  if (IsList(document)) {
    if (absl::Status version = CheckApiVersion(document); !version.ok()) return version;
    return ListItemsFromJson(document);
  }
  absl::StatusOr<Document> one = DocumentFromJson(document);
  if (!one.ok()) return one.status();
  return std::vector<Document>{*std::move(one)};
}

absl::StatusOr<std::vector<Document>> ParseDocuments(const std::string& text,
                                                     const std::string& source) {
  // The readers' messages start with "LINE: ".
  absl::StatusOr<std::vector<SourceDocument>> parsed =
      LooksLikeJson(text) ? ReadJsonDocuments(text) : ReadYamlDocuments(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ":", parsed.status().message()));
  }
  if (parsed->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": no documents"));
  }
  std::vector<Document> documents;
  for (size_t i = 0; i < parsed->size(); ++i) {
    const SourceDocument& source_document = (*parsed)[i];
    absl::StatusOr<std::vector<Document>> read = DocumentsFromJson(source_document.value);
    if (!read.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ":", source_document.line, ": document ", i + 1, ": ", read.status().message()));
    }
    for (Document& document : *read) documents.push_back(std::move(document));
  }
  return documents;
}

absl::StatusOr<std::vector<Document>> ReadDocuments(const std::string& file) {
  std::stringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
    return ParseDocuments(text.str(), "stdin");
  }
  std::ifstream in(file);
  if (!in) {
    return absl::UnknownError(absl::StrCat("cannot read ", file, ": ", std::strerror(errno)));
  }
  text << in.rdbuf();
  return ParseDocuments(text.str(), file);
}

}  // namespace fleet::cli
