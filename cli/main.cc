// fleetctl: parses the command line and runs the selected command.
#include <iostream>

#include "CLI/CLI.hpp"
#include "cli/exit_codes.h"
#include "cli/global_options.h"
#include "cli/version_command.h"

int main(int argc, char** argv) {
  CLI::App app{
      "fleetctl controls a fleetd server through its admin API.\n"
      "Exit codes: 0 success, 1 error, 2 usage error, 5 timeout, 6 not authenticated or not "
      "allowed.",
      "fleetctl"};
  app.set_version_flag("--version", "fleetctl " FLEETD_VERSION,
                       "Print fleetctl's version and exit.");
  fleet::cli::GlobalOptions globals;
  fleet::cli::AddGlobalOptions(app, &globals);

  fleet::cli::CommandAction action;
  fleet::cli::AddVersionCommand(app, globals, &action);
  app.require_subcommand(1);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and --version exit 0; CLI11's own codes for usage errors are 100 and up.
    return app.exit(e) == 0 ? fleet::cli::kExitOk : fleet::cli::kExitUsage;
  }
  return action ? action() : fleet::cli::kExitUsage;
}
