// YAML <-> JSON value conversion, shared by the document parser (YAML in) and -o yaml (YAML out)
// so that what fleetctl prints as YAML reads back as the same JSON.
#ifndef FLEETD_CLI_YAML_JSON_H_
#define FLEETD_CLI_YAML_JSON_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/document_source.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace fleet::cli {

// The JSON value of a plain (unquoted) YAML scalar, by YAML 1.2's core schema: "", "~" and
// "null" (any case style) are null; "true"/"false" (any case style) booleans; decimal, 0x hex and
// 0o octal integers and decimal floats numbers; anything else, including ".inf", ".nan", "yes"
// and dates, the string itself. OUT_OF_RANGE, with document_source.h's InexactInteger or
// OutsideDoubleRange message, for an integer beyond +-kMaxExactInteger or a float beyond a
// double's range (e.g. 1e400): JSON readers would change them.
absl::StatusOr<nlohmann::json> PlainScalarToJson(const std::string& text);

// Converts a YAML node tree: quoted and block scalars (and !!str) are strings, plain scalars go
// through PlainScalarToJson, mapping keys are their text, aliases are followed. Before building
// anything it walks the tree once, aliases expanded, and refuses a tree of more than `max_nodes`
// nodes (keys count) or nested deeper than kMaxDocumentDepth: an alias bomb of a few hundred
// bytes stands for billions of nodes, and an alias to its own ancestor for infinitely many.
// INVALID_ARGUMENT "LINE: PATH: ..." (document_source.h) for those, for a key that is not a
// scalar or is given twice in one mapping, a string that is not well-formed UTF-8, and a number
// PlainScalarToJson refuses. Never throws.
absl::StatusOr<nlohmann::json> YamlToJson(const YAML::Node& node, int64_t max_nodes = 1'000'000);

// The documents of YAML `text` ("---" separated; empty ones skipped), each through YamlToJson
// with one budget of MaxYamlNodes(text) nodes for the whole file. INVALID_ARGUMENT "LINE: ..." for
// text that is not well-formed UTF-8 or holds control characters other than tab, CR and LF (as
// YAML 1.2 requires), malformed YAML (yaml-cpp's message, with its line) and as YamlToJson.
// Never throws.
absl::StatusOr<std::vector<SourceDocument>> ReadYamlDocuments(const std::string& text);

// How many nodes the documents of `text` may expand to: twice its size plus 4,096. Every node
// takes at least one byte of YAML, so a file without aliases never comes near; aliases may
// repeat what they name, but not make a file much bigger than it looks.
int64_t MaxYamlNodes(const std::string& text);

// Whether the string `text` must be quoted in YAML output to read back as that same string, by
// PlainScalarToJson and also by YAML 1.1 readers (so "yes", "on", ".inf" and dates such as
// "2024-05-01T10:00:00Z" are quoted too), and any string with a control character.
bool NeedsQuotesInYaml(const std::string& text);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_YAML_JSON_H_
