#include "cli/command.h"

#include <algorithm>
#include <iostream>
#include <utility>

#include "cli/config_store.h"
#include "cli/connection.h"
#include "cli/environment.h"
#include "cli/help_formatter.h"
#include "cli/resource_tables.h"
#include "cli/terminal_text.h"
#include "cli/usage_errors.h"

namespace fleet::cli {
absl::StatusOr<std::unique_ptr<AdminClient>> Connect(const GlobalOptions& globals,
                                                     TokenUse token_use) {
  const Environment env = Environment::FromProcess();
  absl::StatusOr<std::string> path = ConfigPath(env);
  absl::StatusOr<Config> config = path.ok() ? LoadConfig(*path) : Config();
  if (!config.ok()) return config.status();
  absl::StatusOr<Connection> connection = ResolveConnection(globals, env, *config);
  if (!connection.ok()) return connection.status();
  std::string token;
  if (token_use == TokenUse::kRequired || !connection->token_file.empty()) {
    absl::StatusOr<std::string> read = ReadToken(*connection);
    if (!read.ok()) return read.status();
    token = *std::move(read);
  }
  return AdminClient::Create(connection->address, token, ClientTls(connection->tls),
                             RequestTimeout(globals));
}

void OnRemoteCommand(CLI::App* command, const GlobalOptions& globals, CommandAction* action,
                     RemoteBody body, TokenUse token_use) {
  OnLocalCommand(command, action, [&globals, body = std::move(body), token_use](std::ostream& out) {
    absl::StatusOr<std::unique_ptr<AdminClient>> client = Connect(globals, token_use);
    if (!client.ok()) return client.status();
    return body(**client, out);
  });
}

void OnLocalCommand(CLI::App* command, CommandAction* action, LocalBody body) {
  command->callback([action, body = std::move(body)] {
    *action = [body] { return Report(body(std::cout), std::cerr); };
  });
}

CLI::App* AddGroup(CLI::App& parent, const std::string& name, const std::string& description) {
  CLI::App* group = parent.add_subcommand(name, description);
  group->require_subcommand(1);
  return group;
}

CLI::App* AddCommandWithArg(CLI::App& parent, const std::string& name,
                            const std::string& description, const std::string& arg_name,
                            const std::string& arg_help, std::string* arg) {
  CLI::App* command = parent.add_subcommand(name, description);
  command->add_option(arg_name, *arg, arg_help)->required();
  return command;
}

void AddIdCommand(CLI::App& parent, const std::string& name, const std::string& description,
                  const GlobalOptions& globals, CommandAction* action, const std::string& kind,
                  const std::string& verb, IdCall call) {
  auto id = std::make_shared<std::string>();
  CLI::App* command = AddCommandWithArg(parent, name, description, "ID", "The id.", id.get());
  OnRemoteCommand(
      command, globals, action,
      [&globals, id, kind, verb, call = std::move(call)](AdminClient& client, std::ostream& out) {
        if (absl::Status done = call(client, *id); !done.ok()) return done;
        PrintResult(globals.output, kind, *id, verb, out);
        return absl::OkStatus();
      });
}

void SetExamples(CLI::App* command, std::vector<std::string> examples) {
  if (auto formatter = std::dynamic_pointer_cast<HelpFormatter>(command->get_formatter())) {
    formatter->SetExamples(command, std::move(examples));
  }
}

std::vector<std::string> ExamplesOf(const CLI::App& command) {
  auto formatter = std::dynamic_pointer_cast<HelpFormatter>(command.get_formatter());
  return formatter == nullptr ? std::vector<std::string>() : formatter->Examples(&command);
}

ExitCode RunCommandLine(CLI::App& app, int argc, const char* const* argv,
                        const CommandAction& action) {
  const std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  if (args.empty()) {
    std::cout << app.help();
    return kExitOk;
  }
  if (absl::Status checked = CheckCommandLine(app, args); !checked.ok()) {
    return Report(checked, std::cerr);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version: CLI11 prints them.
    if (e.get_exit_code() == 0) return app.exit(e) == 0 ? kExitOk : kExitUsage;
    const CLI::App& command = SelectedCommand(app);
    const std::string message = DescribeParseError(e, command);
    if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr &&
        std::string(e.what()) == "A subcommand is required") {
      std::cout << command.get_formatter()->make_help(&command, CommandPath(command),
                                                      CLI::AppFormatMode::Normal);
    }
    return Report(UsageError(message), std::cerr);
  }
  return action ? action() : kExitUsage;
}

ExitCode Report(const absl::Status& status, std::ostream& err) {
  // One line without control characters, whatever the message holds (it may quote what an agent
  // sent), so that scripts can read it and a terminal is not driven by it.
  if (!status.ok()) err << "error: " << EscapeForTerminal(std::string(status.message())) << "\n";
  return ExitCodeFor(status);
}

}  // namespace fleet::cli
