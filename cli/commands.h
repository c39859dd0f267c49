// fleetctl's command groups. Each Add*Command(s) function adds its subcommands to `app` (or to
// the given parent command) with their flags and help; when the command line selects one,
// parsing sets `*action` to run it (see command.h). `globals` and `action` must outlive the
// parse and the run. Each group lives in its own *_command.cc.
#ifndef FLEETD_CLI_COMMANDS_H_
#define FLEETD_CLI_COMMANDS_H_

#include "CLI/CLI.hpp"
#include "cli/command.h"
#include "cli/global_options.h"

namespace fleet::cli {

// version: fleetctl's version, and fleetd's version, store backend and store revision.
void AddVersionCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// login: checks an address and token with WhoAmI, then saves them as the current context;
// logout: forgets the current context's token file; whoami: the token's id, role, description.
void AddLoginCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// config view | current-context | get-contexts | use-context | set-context | delete-context |
// rename-context.
void AddConfigCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// apply -f FILE|- [--dry-run] [--force].
void AddApplyCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// diff -f FILE|-: what apply would change, as a unified diff; exit 1 when there is any.
void AddDiffCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// get policies|tokens|agents|admin-tokens|actions [NAME], describe policy|agent|action, delete
// policy NAME...|-f.
void AddGetCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
void AddDescribeCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
void AddDeleteCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// policy history | diff | rollback.
void AddPolicyCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// token create | revoke (enrollment tokens).
void AddTokenCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// agent unenroll | reassign | label | rotate-credentials.
void AddAgentCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// admin-token create | revoke.
void AddAdminTokenCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// rollout status [--watch [--timeout D] [--ignore-offline]] [--max-nacked K].
void AddRolloutCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// action create TYPE | status ID [--watch] | cancel ID (docs/actions.md).
void AddActionCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// query TEXT: a live query, results streamed as JSON lines (docs/actions.md).
void AddQueryCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// help [COMMAND...]: the help of fleetctl or of the command the words name.
void AddHelpCommand(CLI::App& app, CommandAction* action);
// completion bash|zsh|fish: a script that asks the hidden `__complete` command, which completes
// from `app`'s command tree as it is when run (completion.h), fleetd and the config file.
void AddCompletionCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action);
// docs man DIR: manual pages generated from `app`'s command tree as it is when run (man_page.h).
void AddDocsCommand(CLI::App& app, CommandAction* action);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_COMMANDS_H_
