#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/output.h"

namespace fleet::cli {

void AddDeleteCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* remove = AddGroup(app, "delete", "Delete a resource: policy NAME.");
  SetExamples(remove, {"fleetctl delete policy linux-servers"});
  auto name = std::make_shared<std::string>();
  CLI::App* command = AddCommandWithArg(
      *remove, "policy",
      "Delete a policy, its history and its enrollment tokens. Fails (exit 4) while agents are "
      "assigned to it: reassign or unenroll them first.",
      "NAME", "The policy's name.", name.get());
  SetExamples(command, {"fleetctl delete policy linux-servers"});
  OnRemoteCommand(
      command, globals, action, [&globals, name](AdminClient& client, std::ostream& out) {
        v1::DeletePolicyRequest request;
        request.set_name(*name);
        absl::StatusOr<v1::DeletePolicyResponse> response = client.DeletePolicy(request);
        if (!response.ok()) return response.status();
        if (globals.output == OutputFormat::kTable) {
          out << "policy/" << *name << " deleted (" << response->revisions_deleted()
              << " revisions, " << response->enrollment_tokens_deleted() << " enrollment tokens)\n";
        } else {
          WriteStructured({{"kind", "Policy"},
                           {"name", *name},
                           {"revisionsDeleted", response->revisions_deleted()},
                           {"enrollmentTokensDeleted", response->enrollment_tokens_deleted()}},
                          globals.output, out);
        }
        return absl::OkStatus();
      });
}

}  // namespace fleet::cli
