// What every fleetctl command shares: how a parsed subcommand becomes an action, how it reaches
// fleetd, and how it reports a failure (one "error: ..." line on stderr and an exit code from
// exit_codes.h).
#ifndef FLEETD_CLI_COMMAND_H_
#define FLEETD_CLI_COMMAND_H_

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "cli/admin_client.h"
#include "cli/exit_codes.h"
#include "cli/global_options.h"

namespace fleet::cli {

// What a parsed subcommand does: runs and returns the process's exit code.
using CommandAction = std::function<ExitCode()>;

// The work of a command that talks to fleetd; prints its result on `out`.
using RemoteBody = std::function<absl::Status(AdminClient& client, std::ostream& out)>;
// The work of a command that needs no fleetd.
using LocalBody = std::function<absl::Status(std::ostream& out)>;

enum class TokenUse { kRequired, kIfConfigured };

// A client for the fleetd the flags, the environment and the config file select (see
// connection.h), with the admin token read from its file (with kIfConfigured, none when no token
// file is configured). Errors as ResolveConnection and ReadToken.
absl::StatusOr<std::unique_ptr<AdminClient>> Connect(const GlobalOptions& globals,
                                                     TokenUse token_use);

// Makes `command` set `*action` when the command line selects it. The action resolves the
// connection with Connect() and runs `body` with the client on std::cout. `globals` and `action`
// must outlive the parse and the run.
void OnRemoteCommand(CLI::App* command, const GlobalOptions& globals, CommandAction* action,
                     RemoteBody body, TokenUse token_use = TokenUse::kRequired);

// The same for a command that needs no fleetd.
void OnLocalCommand(CLI::App* command, CommandAction* action, LocalBody body);

// Adds a command that only groups subcommands and requires one of them.
CLI::App* AddGroup(CLI::App& parent, const std::string& name, const std::string& description);

// Adds a subcommand of `parent` with one required positional argument `arg_name` (e.g. "NAME"),
// parsed into `*arg`, which must outlive the parse and the run.
CLI::App* AddCommandWithArg(CLI::App& parent, const std::string& name,
                            const std::string& description, const std::string& arg_name,
                            const std::string& arg_help, std::string* arg);

// What a command that changes one thing by its id does: one RPC; OK or its error.
using IdCall = std::function<absl::Status(AdminClient& client, const std::string& id)>;

// Adds `parent NAME ID`: runs `call` with the ID and prints PrintResult(kind, ID, verb)
// (resource_tables.h), e.g. "enrollmenttoken/ID revoked".
void AddIdCommand(CLI::App& parent, const std::string& name, const std::string& description,
                  const GlobalOptions& globals, CommandAction* action, const std::string& kind,
                  const std::string& verb, IdCall call);

// Shows `examples` in the help of `command`, under "Examples:": each a command line, or a
// "# what it does" line, a newline and the command line. Call once per command, where it is
// defined. Needs the root app's formatter to be a HelpFormatter (help_formatter.h), which main()
// sets before adding commands; otherwise does nothing.
void SetExamples(CLI::App* command, std::vector<std::string> examples);
// The examples SetExamples gave `command`, for other renderings of the help (man_page.h); none
// when it gave none.
std::vector<std::string> ExamplesOf(const CLI::App& command);

// Parses `argv` with `app` and runs the action of the command it selects. With no arguments,
// prints the help (exit 0). Unknown commands and flags, and parse errors, are one "error: ..."
// line (usage_errors.h), exit 2; a command that only groups others, given alone, prints its
// help and exits 2. --help and --version exit 0.
ExitCode RunCommandLine(CLI::App& app, int argc, const char* const* argv,
                        const CommandAction& action);

// Prints a failed `status` as one line "error: MESSAGE" on `err`, the message through
// EscapeForTerminal (terminal_text.h); returns ExitCodeFor(status).
ExitCode Report(const absl::Status& status, std::ostream& err);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_COMMAND_H_
