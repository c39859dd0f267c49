#include <iostream>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/documents.h"
#include "cli/output.h"
#include "cli/unified_diff.h"
#include "fleet/v1/canonical_json.h"

namespace fleet::cli {
namespace {

struct DiffFlags {
  std::string file;
};

// What apply compares, as YAML: name, description and spec. The spec in fleetd's canonical form
// on both sides (so that formatting and number spelling that apply would not change show no
// difference), its members in the same (sorted) order.
absl::StatusOr<std::string> PolicyYaml(const std::string& name, const std::string& description,
                                       const std::string& spec_json, bool stored) {
  // What fleetd stored before its canonical form was RFC 8785's may hold numbers a new spec may
  // not: read it as fleetd does.
  absl::StatusOr<nlohmann::json> spec = stored ? v1::ParseStoredJsonObject(spec_json, "spec")
                                               : v1::ParseJsonObject(spec_json, "spec");
  if (!spec.ok()) return spec.status();
  const nlohmann::ordered_json document = {
      {"metadata", {{"name", name}, {"description", description}}},
      {"spec", nlohmann::ordered_json::parse(v1::CanonicalJson(*spec))}};
  std::ostringstream yaml;
  WriteStructured(document, OutputFormat::kYaml, yaml);
  return yaml.str();
}

// The diff of one Policy document against fleetd's latest revision ("" when apply would change
// nothing); a policy that does not exist yet is all added.
absl::StatusOr<std::string> DiffPolicy(AdminClient& client, const v1::ApplyPolicyRequest& request,
                                       const std::string& file) {
  v1::GetPolicyRequest get;
  get.set_name(request.name());
  absl::StatusOr<v1::Policy> current = client.GetPolicy(get);
  if (!current.ok() && !absl::IsNotFound(current.status())) return current.status();
  std::string before;
  std::string before_label = "/dev/null";
  if (current.ok()) {
    absl::StatusOr<std::string> yaml =
        PolicyYaml(current->name(), current->description(), current->spec_json(), /*stored=*/true);
    if (!yaml.ok()) return yaml.status();
    before = *std::move(yaml);
    before_label =
        absl::StrCat("policy/", request.name(), " (fleetd, revision ", current->revision(), ")");
  }
  absl::StatusOr<std::string> after =
      PolicyYaml(request.name(), request.description(), request.spec_json(), /*stored=*/false);
  if (!after.ok()) return after.status();
  return UnifiedDiff(before, *after, before_label,
                     absl::StrCat("policy/", request.name(), " (", file, ")"));
}

// kExitDiffers when some document would change something, kExitOk when none would; errors as
// Report does, except that those that would exit 1 exit kExitDiffFailed, so that 1 always
// means "differences".
ExitCode RunDiff(const DiffFlags& flags, const GlobalOptions& globals) {
  const auto failed = [](const absl::Status& status) {
    const ExitCode code = Report(status, std::cerr);
    return code == kExitError ? kExitDiffFailed : code;
  };
  absl::StatusOr<std::vector<Document>> documents = ReadDocuments(flags.file);
  if (!documents.ok()) return failed(documents.status());
  absl::StatusOr<std::unique_ptr<AdminClient>> client = Connect(globals, TokenUse::kRequired);
  if (!client.ok()) return failed(client.status());
  bool differs = false;
  for (const Document& document : *documents) {
    if (const auto* token = std::get_if<v1::CreateEnrollmentTokenRequest>(&document)) {
      std::cout << "enrollmenttoken for policy/" << token->policy()
                << ": apply would create a new token\n";
      differs = true;
      continue;
    }
    absl::StatusOr<std::string> diff =
        DiffPolicy(**client, std::get<v1::ApplyPolicyRequest>(document),
                   flags.file == "-" ? "stdin" : flags.file);
    if (!diff.ok()) return failed(diff.status());
    std::cout << *diff;
    differs = differs || !diff->empty();
  }
  std::cout << std::flush;
  return differs ? kExitDiffers : kExitOk;
}

}  // namespace

void AddDiffCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  auto flags = std::make_shared<DiffFlags>();
  CLI::App* command = app.add_subcommand(
      "diff",
      "Show what apply -f FILE would change: for each Policy document, a unified diff (as diff "
      "-u prints it) of the policy's name, description and spec as YAML, fleetd's latest "
      "revision (---) against the file (+++); a policy that does not exist yet is all added. "
      "An EnrollmentToken document always creates a token, and says so. Changes nothing.\n"
      "Exit codes (as kubectl diff): 0 no differences, 1 differences, 2 usage error; on other "
      "errors the usual codes (see fleetctl --help), with 7 instead of 1.");
  SetExamples(command, {"fleetctl diff -f policy.yaml",
                        "# Apply only when something would change\nfleetctl diff -f policy.yaml "
                        ">/dev/null || fleetctl apply -f policy.yaml"});
  command->add_option("-f,--filename", flags->file, "The file to compare, or - for stdin.")
      ->required()
      ->type_name("FILE");
  command->callback([&globals, action, flags] {
    *action = [&globals, flags] { return RunDiff(*flags, globals); };
  });
}

}  // namespace fleet::cli
