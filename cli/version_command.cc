#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/output.h"

namespace fleet::cli {
namespace {

// As kubectl version: the client's version always, then the server's, or, when fleetd cannot
// be asked, the error (exit non-zero) after the client's version.
absl::Status PrintVersions(const GlobalOptions& globals, bool client_only, std::ostream& out) {
  absl::StatusOr<v1::VersionResponse> server = absl::UnknownError("not asked");
  std::string address;
  if (!client_only) {
    absl::StatusOr<std::unique_ptr<AdminClient>> client = Connect(globals, TokenUse::kIfConfigured);
    server = client.ok() ? (*client)->Version() : client.status();
    if (client.ok()) address = (*client)->address();
  }
  if (globals.output == OutputFormat::kTable) {
    std::vector<std::pair<std::string, std::string>> rows = {{"Client Version", FLEETD_VERSION}};
    if (server.ok()) {
      rows.insert(rows.end(), {{"Server Version", server->server_version()},
                               {"Server Address", address},
                               {"Store Backend", server->store_backend()},
                               {"Store Revision", absl::StrCat(server->store_revision())}});
    }
    WriteKeyValueTable(rows, out);
  } else {
    nlohmann::ordered_json versions = {{"clientVersion", FLEETD_VERSION}};
    if (server.ok()) {
      versions["serverVersion"] = server->server_version();
      versions["serverAddress"] = address;
      versions["storeBackend"] = server->store_backend();
      versions["storeRevision"] = server->store_revision();
    }
    WriteStructured(versions, globals.output, out);
  }
  return client_only ? absl::OkStatus() : server.status();
}

}  // namespace

void AddVersionCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* command = app.add_subcommand(
      "version",
      "Print fleetctl's version, then the version, store backend and store revision of the "
      "fleetd it talks to; when fleetd cannot be reached, the error after fleetctl's version "
      "(exit 1). Sends the admin token when one is configured.");
  auto client_only = std::make_shared<bool>(false);
  command->add_flag("--client", *client_only, "Print fleetctl's version only; ask no fleetd.");
  SetExamples(command,
              {"fleetctl version", "fleetctl version --client", "fleetctl version -o json"});
  OnLocalCommand(command, action, [&globals, client_only](std::ostream& out) {
    return PrintVersions(globals, *client_only, out);
  });
}

}  // namespace fleet::cli
