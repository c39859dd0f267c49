#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/flag_values.h"
#include "cli/resource_json.h"
#include "cli/resource_tables.h"

namespace fleet::cli {
namespace {

void AddAdminTokenCreate(CLI::App& admin_token, const GlobalOptions& globals,
                         CommandAction* action) {
  auto role = std::make_shared<v1::Role>(v1::ROLE_UNSPECIFIED);
  auto description = std::make_shared<std::string>();
  CLI::App* command = admin_token.add_subcommand(
      "create",
      "Create an admin token and print its secret, which fleetd shows this once only. Role: "
      "admin.");
  SetExamples(command, {"fleetctl admin-token create --role viewer --description \"dashboards\"",
                        "fleetctl admin-token create --role operator -o json"});
  NamedValues(command
                  ->add_option("--role", *role,
                               "What the token may do: viewer (read), operator (also change "
                               "policies, tokens, agents) or admin (also manage admin tokens).")
                  ->required(),
              RolesByName());
  command->add_option("--description", *description, "Free text for people, e.g. who has it.");
  OnRemoteCommand(
      command, globals, action,
      [&globals, role, description](AdminClient& client, std::ostream& out) {
        v1::CreateAdminTokenRequest request;
        request.set_role(*role);
        request.set_description(*description);
        absl::StatusOr<v1::CreateAdminTokenResponse> response = client.CreateAdminToken(request);
        if (!response.ok()) return response.status();
        PrintSecret(globals.output, AdminTokenToJson(response->token()), response->secret(),
                    absl::StrCat("admintoken/", response->token().id(), " created with role ",
                                 RoleName(*role), "; its secret is shown once:"),
                    out);
        return absl::OkStatus();
      });
}

}  // namespace

void AddAdminTokenCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* admin_token =
      AddGroup(app, "admin-token", "Create and revoke admin tokens (role admin).");
  SetExamples(admin_token, {"fleetctl admin-token create --role operator",
                            "fleetctl admin-token revoke TOKEN_ID"});
  AddAdminTokenCreate(*admin_token, globals, action);
  AddIdCommand(*admin_token, "revoke",
               "Revoke an admin token (ID: see fleetctl get admin-tokens). The last admin-role "
               "token cannot be revoked (exit 4). Role: admin.",
               globals, action, "AdminToken", "revoked",
               [](AdminClient& client, const std::string& id) {
                 v1::RevokeAdminTokenRequest request;
                 request.set_id(id);
                 return client.RevokeAdminToken(request).status();
               });
  SetExamples(
      admin_token->get_subcommand("revoke"),
      {"fleetctl admin-token revoke TOKEN_ID", "# Find it first\nfleetctl get admin-tokens"});
}

}  // namespace fleet::cli
