#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/usage_errors.h"

namespace fleet::cli {

void AddHelpCommand(CLI::App& app, CommandAction* action) {
  CLI::App* help = app.add_subcommand(
      "help", "Show the help of fleetctl or of a command, e.g. fleetctl help get policies.");
  // Every word after "help" is a command name, not an argument of help.
  help->prefix_command()->allow_extras()->fallthrough(false);
  SetExamples(help, {"fleetctl help", "fleetctl help get agents"});
  help->callback([&app, help, action] {
    *action = [&app, words = help->remaining()] {
      absl::StatusOr<const CLI::App*> command = FindCommand(app, words);
      if (!command.ok()) return Report(command.status(), std::cerr);
      std::cout << (*command)->get_formatter()->make_help(*command, CommandPath(**command),
                                                          CLI::AppFormatMode::Normal);
      return kExitOk;
    };
  });
}

}  // namespace fleet::cli
