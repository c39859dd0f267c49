#include "cli/version_command.h"

#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/admin_client.h"
#include "cli/output.h"

namespace fleet::cli {

void AddVersionCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* command = app.add_subcommand(
      "version",
      "Print fleetctl's version and the version, store backend and store revision of "
      "the fleetd it talks to.");
  command->callback([&globals, action] {
    *action = [&globals] { return RunVersionCommand(globals, std::cout, std::cerr); };
  });
}

ExitCode RunVersionCommand(const GlobalOptions& globals, std::ostream& out, std::ostream& err) {
  std::unique_ptr<AdminClient> client = AdminClient::Create(globals.address);
  absl::StatusOr<v1::VersionResponse> server = client->Version();
  if (!server.ok()) {
    err << "error: " << server.status().message() << "\n";
    return ExitCodeFor(server.status());
  }
  if (globals.output == OutputFormat::kTable) {
    WriteKeyValueTable({{"Client Version", FLEETD_VERSION},
                        {"Server Version", server->server_version()},
                        {"Server Address", globals.address},
                        {"Store Backend", server->store_backend()},
                        {"Store Revision", absl::StrCat(server->store_revision())}},
                       out);
  } else {
    nlohmann::ordered_json json = {{"clientVersion", FLEETD_VERSION},
                                   {"serverVersion", server->server_version()},
                                   {"serverAddress", globals.address},
                                   {"storeBackend", server->store_backend()},
                                   {"storeRevision", server->store_revision()}};
    WriteStructured(json, globals.output, out);
  }
  return kExitOk;
}

}  // namespace fleet::cli
