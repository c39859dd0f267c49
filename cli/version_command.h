// `fleetctl version`: the client's version, and the server's version, store backend and
// revision as reported by AdminService.Version.
#ifndef FLEETD_CLI_VERSION_COMMAND_H_
#define FLEETD_CLI_VERSION_COMMAND_H_

#include <functional>
#include <ostream>

#include "CLI/CLI.hpp"
#include "cli/exit_codes.h"
#include "cli/global_options.h"

namespace fleet::cli {

// What a parsed subcommand does: runs and returns the process's exit code.
using CommandAction = std::function<ExitCode()>;

// Adds the `version` subcommand to `app`. When the command line selects it, parsing sets
// `*action` to run it. `globals` and `action` must outlive the parse and the run.
void AddVersionCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action);

// Runs `fleetctl version`: prints the result on `out`, or one "error: ..." line on `err`.
ExitCode RunVersionCommand(const GlobalOptions& globals, std::ostream& out, std::ostream& err);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_VERSION_COMMAND_H_
