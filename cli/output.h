// Printing command results in the format the operator chose with -o.
#ifndef FLEETD_CLI_OUTPUT_H_
#define FLEETD_CLI_OUTPUT_H_

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"

namespace fleet::cli {

enum class OutputFormat { kTable, kJson, kYaml };

// How a kTable list of `get` is printed: -o table (kNormal), -o wide (kWide: more columns) or
// -o name (kName: one KIND/NAME line a row, as kubectl's). Commands that print no list print
// kWide and kName as kNormal.
enum class TableStyle { kNormal, kWide, kName };

// Writes `value` as pretty-printed JSON (kJson) or as a YAML document (kYaml), keys in the
// order they were inserted, ending with a newline. kTable is the caller's job; it writes JSON.
// Ill-formed UTF-8 in a string is written as U+FFFD.
void WriteStructured(const nlohmann::ordered_json& value, OutputFormat format, std::ostream& out);

// Writes "Label:  value" lines with the values aligned in one column, each value through
// EscapeForTerminal (terminal_text.h).
void WriteKeyValueTable(const std::vector<std::pair<std::string, std::string>>& rows,
                        std::ostream& out);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_OUTPUT_H_
