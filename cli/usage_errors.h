// Usage errors in the operator's words: unknown commands and flags with the nearest spelling,
// and CLI11's parse errors rewritten as one line without CLI11's internals.
#ifndef FLEETD_CLI_USAGE_ERRORS_H_
#define FLEETD_CLI_USAGE_ERRORS_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fleet::cli {

// "fleetctl get policies" for the `get policies` command of the fleetctl app.
std::string CommandPath(const CLI::App& command);

// The one of `candidates` nearest to `typed`, or "" when none is near: `typed` is a prefix of at
// least two characters (leading dashes aside), or at most one edit away (two when `typed` has
// more than four characters; a swap of neighbours counts one; never for one or two characters).
std::string NearestName(const std::string& typed, const std::vector<std::string>& candidates);

// Walks `args` (argv without the program name) down `app`'s command tree as CLI11 will, and
// fails, before CLI11 parses anything, on the first word that names no subcommand of a command
// that only groups subcommands (`unknown command "gte" for "fleetctl"; did you mean "get"?`) and
// on the first flag that neither the selected command nor its parents take (`unknown flag
// "--adress" for "fleetctl get policies"; did you mean "--address"?`). The error is a usage
// error (exit_codes.h). Stops at "--" and at a command that takes any arguments (`help`).
absl::Status CheckCommandLine(const CLI::App& app, const std::vector<std::string>& args);

// The command `args` select, following subcommand names from `app` and skipping flags: for
// `fleetctl help get policies`. A usage error as CheckCommandLine for a word that names no
// subcommand.
absl::StatusOr<const CLI::App*> FindCommand(const CLI::App& app,
                                            const std::vector<std::string>& words);

// The deepest command the last parse of `app` selected (`app` itself when none).
const CLI::App& SelectedCommand(const CLI::App& app);

// One line for a CLI11 parse error of `command` (SelectedCommand), e.g. `invalid --role "x":
// want admin, operator or viewer` for the validation error of a NamedValues flag
// (flag_values.h), without "Run with --help" or CLI11's type names.
std::string DescribeParseError(const CLI::ParseError& error, const CLI::App& command);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_USAGE_ERRORS_H_
