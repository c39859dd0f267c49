// fleetctl: builds the command tree and runs the command the command line selects.
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "cli/command.h"
#include "cli/commands.h"
#include "cli/exit_codes.h"
#include "cli/global_options.h"
#include "cli/help_formatter.h"
#include "rpc/grpc_logging.h"

int main(int argc, char** argv) {
  fleet::rpc::SilenceGrpcLogUnlessAsked();
  CLI::App app{
      "fleetctl controls a fleetd server through its admin API.\n"
      "Start with: fleetctl login --address HOST:PORT --token-file FILE\n",
      "fleetctl"};
  // Before the commands, which share it (SetExamples, global flags in every command's help).
  app.formatter(std::make_shared<fleet::cli::HelpFormatter>());
  app.set_version_flag("--version", "fleetctl " FLEETD_VERSION,
                       "Print fleetctl's version and exit.");
  fleet::cli::GlobalOptions globals;
  fleet::cli::AddGlobalOptions(app, &globals);

  fleet::cli::CommandAction action;
  fleet::cli::AddLoginCommand(app, globals, &action);
  fleet::cli::AddConfigCommands(app, globals, &action);
  fleet::cli::AddVersionCommand(app, globals, &action);
  fleet::cli::AddApplyCommand(app, globals, &action);
  fleet::cli::AddDiffCommand(app, globals, &action);
  fleet::cli::AddGetCommands(app, globals, &action);
  fleet::cli::AddDescribeCommands(app, globals, &action);
  fleet::cli::AddDeleteCommands(app, globals, &action);
  fleet::cli::AddPolicyCommands(app, globals, &action);
  fleet::cli::AddTokenCommands(app, globals, &action);
  fleet::cli::AddAgentCommands(app, globals, &action);
  fleet::cli::AddAdminTokenCommands(app, globals, &action);
  fleet::cli::AddRolloutCommands(app, globals, &action);
  fleet::cli::AddActionCommands(app, globals, &action);
  fleet::cli::AddQueryCommand(app, globals, &action);
  fleet::cli::AddHelpCommand(app, &action);
  fleet::cli::AddCompletionCommand(app, globals, &action);
  fleet::cli::AddDocsCommand(app, &action);
  app.require_subcommand(1);
  fleet::cli::SetExamples(&app,
                          {"fleetctl login --address fleetd.example.com:8221 --token-file "
                           "admin.token",
                           "fleetctl apply -f policy.yaml", "fleetctl get agents -l env=prod"});
  // After the subcommands, which would otherwise copy it into their own help.
  app.footer(std::string("Environment: FLEETCTL_CONTEXT, FLEETCTL_ADDRESS and FLEETCTL_TOKEN_FILE "
                         "override the config's current context.\n\n") +
             fleet::cli::kExitCodeHelp);
  return fleet::cli::RunCommandLine(app, argc, argv, action);
}
