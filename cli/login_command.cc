#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/admin_client.h"
#include "cli/commands.h"
#include "cli/config_store.h"
#include "cli/connection.h"
#include "cli/environment.h"
#include "cli/resource_json.h"

namespace fleet::cli {
namespace {

absl::Status Login(const GlobalOptions& globals, std::ostream& out) {
  const Environment env = Environment::FromProcess();
  const Context context{.name = globals.context.empty() ? "default" : globals.context,
                        .address = globals.address,
                        .token_file = AbsolutePath(globals.token_file),
                        .tls = AbsoluteTlsPaths(globals.tls)};
  absl::StatusOr<std::string> token =
      ReadToken(Connection{.address = context.address, .token_file = context.token_file});
  if (!token.ok()) return token.status();
  absl::StatusOr<std::unique_ptr<AdminClient>> client =
      AdminClient::Create(context.address, *token, ClientTls(context.tls));
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

}  // namespace

void AddLoginCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* command = app.add_subcommand(
      "login",
      "Check that --address and --token-file work (WhoAmI), then save them as the context "
      "named by --context (default \"default\") and make it current, with the TLS flags given "
      "(--certificate-authority, --client-certificate, --client-key, --tls-server-name, "
      "--insecure-skip-tls-verify). The config keeps the files' absolute paths, never the token "
      "or a key.");
  // --address and --token-file are the global flags; login requires both.
  command->callback([&globals, action] {
    if (globals.address.empty() || globals.token_file.empty()) {
      throw CLI::ValidationError("login needs --address HOST:PORT and --token-file FILE");
    }
    *action = [&globals] { return Report(Login(globals, std::cout), std::cerr); };
  });
}

}  // namespace fleet::cli
