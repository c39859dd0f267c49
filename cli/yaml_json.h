// YAML <-> JSON value conversion, shared by the document parser (YAML in) and -o yaml (YAML out)
// so that what fleetctl prints as YAML reads back as the same JSON.
#ifndef FLEETD_CLI_YAML_JSON_H_
#define FLEETD_CLI_YAML_JSON_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace fleet::cli {

// The JSON value of a plain (unquoted) YAML scalar, by YAML 1.2's core schema: "", "~" and
// "null" (any case style) are null; "true"/"false" (any case style) booleans; decimal, 0x hex and
// 0o octal integers and decimal floats numbers (an integer too big for 64 bits becomes a float);
// anything else, including ".inf", ".nan", "yes" and dates, the string itself.
nlohmann::json PlainScalarToJson(const std::string& text);

// Converts a YAML node tree: quoted and block scalars (and !!str) are strings, plain scalars go
// through PlainScalarToJson, mapping keys are their text, aliases are followed. INVALID_ARGUMENT,
// naming the 1-based line, for a key that is not a scalar or a key given twice in one mapping.
absl::StatusOr<nlohmann::json> YamlToJson(const YAML::Node& node);

// Whether the string `text` must be quoted in YAML output to read back as that same string, by
// PlainScalarToJson and also by YAML 1.1 readers (so "yes", "on", ".inf" and dates such as
// "2024-05-01T10:00:00Z" are quoted too).
bool NeedsQuotesInYaml(const std::string& text);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_YAML_JSON_H_
