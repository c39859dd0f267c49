#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/flag_values.h"
#include "cli/resource_json.h"
#include "cli/resource_tables.h"

namespace fleet::cli {
namespace {

constexpr char kNameHelp[] = "The policy's name.";

struct PolicyFlags {
  std::string name;
  int64_t from = 0;
  int64_t to = 0;
};

void AddHistory(CLI::App& policy, const GlobalOptions& globals, CommandAction* action) {
  auto flags = std::make_shared<PolicyFlags>();
  CLI::App* command =
      AddCommandWithArg(policy, "history", "List the retained revisions of a policy, newest first.",
                        "NAME", kNameHelp, &flags->name);
  SetExamples(command, {"fleetctl policy history linux-servers",
                        "fleetctl policy history linux-servers -o json"});
  OnRemoteCommand(
      command, globals, action, [&globals, flags](AdminClient& client, std::ostream& out) {
        v1::GetPolicyHistoryRequest request;
        request.set_name(flags->name);
        absl::StatusOr<v1::GetPolicyHistoryResponse> response = client.GetPolicyHistory(request);
        if (!response.ok()) return response.status();
        PrintList(globals.output, response->revisions(), &PolicyToJson, &WritePolicyHistoryTable,
                  out);
        return absl::OkStatus();
      });
}

void AddDiff(CLI::App& policy, const GlobalOptions& globals, CommandAction* action) {
  auto flags = std::make_shared<PolicyFlags>();
  CLI::App* command = AddCommandWithArg(
      policy, "diff",
      "Print the RFC 6902 JSON Patch that turns revision --from's spec into revision --to's.",
      "NAME", kNameHelp, &flags->name);
  SetExamples(command, {"fleetctl policy diff linux-servers --from 2 --to 3",
                        "# Which revisions there are\nfleetctl policy history linux-servers"});
  command->add_option("--from", flags->from, "The older revision.")
      ->required()
      ->check(RevisionNumber());
  command->add_option("--to", flags->to, "The newer revision.")
      ->required()
      ->check(RevisionNumber());
  OnRemoteCommand(command, globals, action,
                  [&globals, flags](AdminClient& client, std::ostream& out) {
                    v1::DiffPolicyRequest request;
                    request.set_name(flags->name);
                    request.set_from_revision(flags->from);
                    request.set_to_revision(flags->to);
                    absl::StatusOr<v1::DiffPolicyResponse> response = client.DiffPolicy(request);
                    if (!response.ok()) return response.status();
                    const nlohmann::ordered_json patch =
                        nlohmann::ordered_json::parse(response->patch_json(), nullptr, false);
                    if (patch.is_discarded()) {
                      return absl::InternalError(
                          absl::StrCat("fleetd sent a malformed patch: ", response->patch_json()));
                    }
                    WriteStructured(patch, globals.output, out);
                    return absl::OkStatus();
                  });
}

void AddRollback(CLI::App& policy, const GlobalOptions& globals, CommandAction* action) {
  auto flags = std::make_shared<PolicyFlags>();
  CLI::App* command = AddCommandWithArg(
      policy, "rollback",
      "Make a new revision of a policy whose description and spec equal revision --to's.", "NAME",
      kNameHelp, &flags->name);
  SetExamples(command, {"fleetctl policy rollback linux-servers --to 2",
                        "# See what it would restore first\nfleetctl policy diff linux-servers "
                        "--from 2 --to 3"});
  command->add_option("--to", flags->to, "The retained revision to restore.")
      ->required()
      ->check(RevisionNumber());
  OnRemoteCommand(
      command, globals, action, [&globals, flags](AdminClient& client, std::ostream& out) {
        v1::RollbackPolicyRequest request;
        request.set_name(flags->name);
        request.set_to_revision(flags->to);
        absl::StatusOr<v1::ApplyPolicyResponse> response = client.RollbackPolicy(request);
        if (!response.ok()) return response.status();
        if (globals.output != OutputFormat::kTable) {
          WriteStructured(PolicyToJson(response->policy()), globals.output, out);
        } else if (response->changed()) {
          out << "policy/" << flags->name << " rolled back to revision " << flags->to
              << " (revision " << response->policy().revision() << ")\n";
        } else {
          out << "policy/" << flags->name << " unchanged (revision "
              << response->policy().revision() << " already equals revision " << flags->to << ")\n";
        }
        return absl::OkStatus();
      });
}

}  // namespace

void AddPolicyCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* policy =
      AddGroup(app, "policy", "Work with a policy's revisions: history, diff, rollback.");
  SetExamples(policy, {"fleetctl policy history linux-servers",
                       "fleetctl policy rollback linux-servers --to 3"});
  AddHistory(*policy, globals, action);
  AddDiff(*policy, globals, action);
  AddRollback(*policy, globals, action);
}

}  // namespace fleet::cli
