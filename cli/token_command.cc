#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/duration.h"
#include "cli/flag_values.h"
#include "cli/resource_json.h"
#include "cli/resource_tables.h"

namespace fleet::cli {
namespace {

struct CreateFlags {
  std::string policy;
  std::string description;
  std::string ttl;
  int64_t max_uses = 0;
};

absl::StatusOr<v1::CreateEnrollmentTokenRequest> ToRequest(const CreateFlags& flags) {
  v1::CreateEnrollmentTokenRequest request;
  request.set_policy(flags.policy);
  request.set_description(flags.description);
  request.set_max_uses(flags.max_uses);
  if (!flags.ttl.empty()) {
    absl::StatusOr<absl::Duration> ttl = ParseDuration(flags.ttl);
    if (!ttl.ok()) return ttl.status();
    *request.mutable_ttl() = ToProto(*ttl);
  }
  return request;
}

void AddTokenCreate(CLI::App& token, const GlobalOptions& globals, CommandAction* action) {
  auto flags = std::make_shared<CreateFlags>();
  CLI::App* command = token.add_subcommand(
      "create",
      "Create an enrollment token for a policy and print its secret, which fleetd shows this "
      "once only. Agents enroll with the secret and are assigned to the policy.");
  SetExamples(command,
              {"fleetctl token create --policy linux-servers --ttl 24h --max-uses 10",
               "fleetctl token create --policy linux-servers --description \"rack 4\" -o json"});
  command->add_option("--policy", flags->policy, "The policy enrolled agents get.")
      ->required()
      ->type_name("NAME");
  command->add_option("--ttl", flags->ttl, "How long the token works, e.g. 24h. Default: forever.")
      ->check(DurationValidator());
  command->add_option("--max-uses", flags->max_uses, "How many agents may enroll. Default: any.")
      ->check(Count());
  command->add_option("--description", flags->description, "Free text for people.");
  OnRemoteCommand(
      command, globals, action, [&globals, flags](AdminClient& client, std::ostream& out) {
        absl::StatusOr<v1::CreateEnrollmentTokenRequest> request = ToRequest(*flags);
        if (!request.ok()) return request.status();
        absl::StatusOr<v1::CreateEnrollmentTokenResponse> response =
            client.CreateEnrollmentToken(*request);
        if (!response.ok()) return response.status();
        PrintSecret(globals.output, EnrollmentTokenToJson(response->token()), response->secret(),
                    absl::StrCat("enrollmenttoken/", response->token().id(), " created for policy/",
                                 flags->policy, "; its secret is shown once:"),
                    out);
        return absl::OkStatus();
      });
}

}  // namespace

void AddTokenCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* token = AddGroup(app, "token", "Create and revoke enrollment tokens.");
  SetExamples(token,
              {"fleetctl token create --policy linux-servers", "fleetctl token revoke TOKEN_ID"});
  AddTokenCreate(*token, globals, action);
  AddIdCommand(*token, "revoke",
               "Revoke an enrollment token (ID: see fleetctl get tokens): it enrolls no more "
               "agents; those it enrolled stay.",
               globals, action, "EnrollmentToken", "revoked",
               [](AdminClient& client, const std::string& id) {
                 v1::RevokeEnrollmentTokenRequest request;
                 request.set_id(id);
                 return client.RevokeEnrollmentToken(request).status();
               });
  SetExamples(token->get_subcommand("revoke"),
              {"fleetctl token revoke TOKEN_ID",
               "# Find it first\nfleetctl get tokens --policy linux-servers"});
}

}  // namespace fleet::cli
