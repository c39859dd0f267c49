#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/admin_client.h"
#include "cli/commands.h"
#include "cli/config_store.h"
#include "cli/connection.h"
#include "cli/environment.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/resource_json.h"

namespace fleet::cli {
namespace {

absl::Status Login(const GlobalOptions& globals, std::ostream& out) {
  const Environment env = Environment::FromProcess();
  const Context context{.name = globals.context.empty() ? "default" : globals.context,
                        .address = globals.address,
                        .token_file = AbsolutePath(globals.token_file),
                        .tls = AbsoluteTlsPaths(globals.tls)};
  if (absl::Status checked = CheckAddress(context.address, "--address"); !checked.ok()) {
    return checked;
  }
  absl::StatusOr<std::string> token =
      ReadToken(Connection{.address = context.address, .token_file = context.token_file});
  if (!token.ok()) return token.status();
  absl::StatusOr<std::unique_ptr<AdminClient>> client =
      AdminClient::Create(context.address, *token, ClientTls(context.tls), RequestTimeout(globals));
  if (!client.ok()) return client.status();
  absl::StatusOr<v1::WhoAmIResponse> me = (*client)->WhoAmI();
  if (!me.ok()) return me.status();
  absl::StatusOr<std::string> path = ConfigPath(env);
  if (!path.ok()) return path.status();
  absl::StatusOr<Config> config = LoadConfig(*path);
  if (!config.ok()) return config.status();
  config->Upsert(context);
  config->current_context = context.name;
  if (absl::Status saved = SaveConfig(*path, *config); !saved.ok()) return saved;
  out << "Logged in to " << context.address << " as token " << me->token_id() << " (role "
      << RoleName(me->role()) << "); context \"" << context.name << "\" saved in " << *path
      << " and made current.\n";
  return absl::OkStatus();
}

// Forgets the token file of the context --context (else FLEETCTL_CONTEXT, else the current one)
// names, as `docker logout` forgets a registry's credentials: the context keeps its address and
// TLS settings, so `fleetctl login` (or --token-file) works again, and the token file, which
// fleetctl did not write, is left alone.
absl::Status Logout(const GlobalOptions& globals, std::ostream& out) {
  const Environment env = Environment::FromProcess();
  absl::StatusOr<std::string> path = ConfigPath(env);
  if (!path.ok()) return path.status();
  absl::StatusOr<Config> config = LoadConfig(*path);
  if (!config.ok()) return config.status();
  const std::string name = !globals.context.empty() ? globals.context
                           : !env.context.empty()   ? env.context
                                                    : config->current_context;
  if (name.empty()) {
    return UsageError("no current context to log out of; pass --context NAME");
  }
  const Context* found = config->Find(name);
  if (found == nullptr) return UnknownContextError(name);
  if (found->token_file.empty()) {
    out << "Context \"" << name << "\" has no token file; nothing to log out of.\n";
    return absl::OkStatus();
  }
  Context context = *found;
  const std::string token_file = context.token_file;
  context.token_file.clear();
  config->Upsert(context);
  if (absl::Status saved = SaveConfig(*path, *config); !saved.ok()) return saved;
  out << "Logged out of context \"" << name << "\": it no longer uses " << token_file
      << " (the file is left as it is). Log in again with fleetctl login.\n";
  return absl::OkStatus();
}

void AddLogoutCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* command = app.add_subcommand(
      "logout",
      "Make the current context (or --context NAME) forget its token file, so that commands "
      "stop authenticating until the next fleetctl login. The context keeps its address and TLS "
      "settings; the token file itself is not touched (delete it, or revoke the token with "
      "fleetctl admin-token revoke, to end it for good).");
  SetExamples(command, {"fleetctl logout", "fleetctl logout --context lab"});
  OnLocalCommand(command, action, [&globals](std::ostream& out) { return Logout(globals, out); });
}

void AddWhoAmICommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* command = app.add_subcommand(
      "whoami", "Show the admin token fleetctl authenticates with: its id, role and description.");
  SetExamples(command,
              {"fleetctl whoami", "fleetctl whoami -o json", "fleetctl whoami --context prod"});
  OnRemoteCommand(command, globals, action, [&globals](AdminClient& client, std::ostream& out) {
    absl::StatusOr<v1::WhoAmIResponse> me = client.WhoAmI();
    if (!me.ok()) return me.status();
    if (globals.output == OutputFormat::kTable) {
      WriteKeyValueTable({{"Token ID", me->token_id()},
                          {"Role", RoleName(me->role())},
                          {"Description", me->description()},
                          {"Server Address", client.address()}},
                         out);
    } else {
      nlohmann::ordered_json json = WhoAmIToJson(*me);
      json["status"] = {{"serverAddress", client.address()}};
      WriteStructured(json, globals.output, out);
    }
    return absl::OkStatus();
  });
}

}  // namespace

void AddLoginCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* command = app.add_subcommand(
      "login",
      "Check that --address and --token-file work (WhoAmI), then save them as the context "
      "named by --context (default \"default\") and make it current, with the TLS flags given "
      "(--certificate-authority, --client-certificate, --client-key, --tls-server-name, "
      "--insecure-skip-tls-verify). The config keeps the files' absolute paths, never the token "
      "or a key.");
  SetExamples(command, {"fleetctl login --address fleetd.example.com:8221 --token-file "
                        "admin.token --certificate-authority ca.pem",
                        "# A second fleetd, saved as context \"lab\"\n"
                        "fleetctl login --context lab --address 10.0.0.5:8221 --token-file "
                        "lab.token"});
  // --address and --token-file are the global flags; login requires both.
  command->callback([&globals, action] {
    if (globals.address.empty() || globals.token_file.empty()) {
      throw CLI::ValidationError("fleetctl login needs --address HOST:PORT and --token-file FILE");
    }
    *action = [&globals] { return Report(Login(globals, std::cout), std::cerr); };
  });
  AddLogoutCommand(app, globals, action);
  AddWhoAmICommand(app, globals, action);
}

}  // namespace fleet::cli
