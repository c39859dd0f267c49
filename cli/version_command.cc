#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace fleet::cli {

void AddVersionCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* command = app.add_subcommand(
      "version",
      "Print fleetctl's version and the version, store backend and store revision of the fleetd "
      "it talks to. Sends the admin token when one is configured.");
  OnRemoteCommand(
      command, globals, action,
      [&globals](AdminClient& client, std::ostream& out) {
        absl::StatusOr<v1::VersionResponse> server = client.Version();
        if (!server.ok()) return server.status();
        if (globals.output == OutputFormat::kTable) {
          WriteKeyValueTable({{"Client Version", FLEETD_VERSION},
                              {"Server Version", server->server_version()},
                              {"Server Address", client.address()},
                              {"Store Backend", server->store_backend()},
                              {"Store Revision", absl::StrCat(server->store_revision())}},
                             out);
        } else {
          WriteStructured({{"clientVersion", FLEETD_VERSION},
                           {"serverVersion", server->server_version()},
                           {"serverAddress", client.address()},
                           {"storeBackend", server->store_backend()},
                           {"storeRevision", server->store_revision()}},
                          globals.output, out);
        }
        return absl::OkStatus();
      },
      TokenUse::kIfConfigured);
}

}  // namespace fleet::cli
