#include <iostream>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/documents.h"
#include "cli/output.h"

namespace fleet::cli {
namespace {

struct DeleteFlags {
  std::vector<std::string> names;  // delete policy NAME...
  std::string file;                // delete -f FILE
  bool ignore_not_found = false;
};

// Deletes one policy and prints what went (-o table), or adds it to `results` (-o json|yaml,
// printed once at the end). NOT_FOUND is OK (and prints nothing) with --ignore-not-found.
absl::Status DeletePolicy(AdminClient& client, const std::string& name, const DeleteFlags& flags,
                          OutputFormat format, nlohmann::ordered_json& results, std::ostream& out) {
  v1::DeletePolicyRequest request;
  request.set_name(name);
  absl::StatusOr<v1::DeletePolicyResponse> response = client.DeletePolicy(request);
  if (absl::IsNotFound(response.status()) && flags.ignore_not_found) return absl::OkStatus();
  if (!response.ok()) return response.status();
  if (format == OutputFormat::kTable) {
    out << "policy/" << name << " deleted (" << response->revisions_deleted() << " revisions, "
        << response->enrollment_tokens_deleted() << " enrollment tokens)\n";
  } else {
    results.push_back({{"kind", "Policy"},
                       {"name", name},
                       {"result", "deleted"},
                       {"revisionsDeleted", response->revisions_deleted()},
                       {"enrollmentTokensDeleted", response->enrollment_tokens_deleted()}});
  }
  return absl::OkStatus();
}

// The policies to delete: the names given, or those the documents of -f FILE name (an
// EnrollmentToken document names no token: it is skipped, with a note on stderr).
absl::StatusOr<std::vector<std::string>> PolicyNames(const DeleteFlags& flags) {
  if (flags.file.empty()) return flags.names;
  absl::StatusOr<std::vector<Document>> documents = ReadDocuments(flags.file);
  if (!documents.ok()) return documents.status();
  std::vector<std::string> names;
  for (const Document& document : *documents) {
    if (const auto* policy = std::get_if<v1::ApplyPolicyRequest>(&document)) {
      names.push_back(policy->name());
    } else {
      std::cerr << "note: an EnrollmentToken document names no token to delete; skipped (fleetctl "
                   "token revoke ID revokes one)\n";
    }
  }
  return names;
}

}  // namespace

void AddDeleteCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  auto flags = std::make_shared<DeleteFlags>();
  CLI::App* remove = app.add_subcommand(
      "delete",
      "Delete resources: policy NAME..., or the policies the documents of -f FILE name. Each is "
      "deleted in turn; a failure is reported and the others still go (the exit code is the "
      "last failure's).");
  SetExamples(remove, {"fleetctl delete policy web db",
                       "fleetctl delete -f policies.yaml --ignore-not-found"});
  remove->require_subcommand(0, 1);
  remove->add_option(
      "-f,--filename", flags->file,
      "Delete what the documents of this file (as fleetctl apply -f takes) name; - for stdin.");
  remove->add_flag("--ignore-not-found", flags->ignore_not_found,
                   "A policy that does not exist is no error.");
  CLI::App* policy = remove->add_subcommand(
      "policy",
      "Delete policies, their history and their enrollment tokens. Fails (exit 4) for a policy "
      "agents are assigned to: reassign or unenroll them first.");
  policy->alias("policies");
  SetExamples(policy, {"fleetctl delete policy linux-servers",
                       "fleetctl delete policy old-a old-b --ignore-not-found"});
  policy->add_option("NAME", flags->names, "The policies' names.")->required();
  policy->add_flag("--ignore-not-found", flags->ignore_not_found,
                   "A policy that does not exist is no error.");
  remove->parse_complete_callback([flags] {
    if (flags->file.empty() == flags->names.empty()) {
      throw CLI::ValidationError(flags->file.empty()
                                     ? "name what to delete: policy NAME... or -f FILE"
                                     : "give either policy NAME... or -f FILE, not both");
    }
  });
  OnRemoteCommand(
      remove, globals, action, [&globals, flags](AdminClient& client, std::ostream& out) {
        absl::StatusOr<std::vector<std::string>> names = PolicyNames(*flags);
        if (!names.ok()) return names.status();
        absl::Status last;
        nlohmann::ordered_json results = nlohmann::ordered_json::array();
        for (const std::string& name : *names) {
          absl::Status deleted = DeletePolicy(client, name, *flags, globals.output, results, out);
          if (deleted.ok()) continue;
          // Reported as it happens; the last one is reported by the caller, as a command's error.
          if (!last.ok()) Report(last, std::cerr);
          last = deleted;
        }
        // One document for all, as apply prints its results.
        if (globals.output != OutputFormat::kTable) WriteStructured(results, globals.output, out);
        return last;
      });
}

}  // namespace fleet::cli
