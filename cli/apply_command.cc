#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <variant>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/documents.h"
#include "cli/output.h"
#include "cli/resource_json.h"

namespace fleet::cli {
namespace {

struct ApplyFlags {
  std::string file;
  bool dry_run = false;
  bool force = false;
};

// Applies documents one by one, printing a line per document (-o table) or collecting one JSON
// result per document to print at the end (-o json|yaml).
class Applier {
 public:
  Applier(AdminClient& client, bool dry_run, OutputFormat format, std::ostream& out)
      : client_(client), dry_run_(dry_run), format_(format), out_(out) {}

  absl::Status Apply(const v1::ApplyPolicyRequest& document) {
    v1::ApplyPolicyRequest request = document;
    request.set_dry_run(dry_run_);
    absl::StatusOr<v1::ApplyPolicyResponse> response = client_.ApplyPolicy(request);
    if (!response.ok()) return response.status();
    const char* verb =
        response->created() ? "created"
        // The description and labels are the policy's metadata: changed in place,
        // no revision.
        : response->changed() || response->labels_updated() || response->description_updated()
            ? "configured"
            : "unchanged";
    Report(absl::StrCat("policy/", request.name(), " ", verb, " (revision ",
                        response->policy().revision(), ")"),
           {{"kind", "Policy"},
            {"name", request.name()},
            {"result", verb},
            {"revision", response->policy().revision()},
            {"dryRun", dry_run_}});
    return absl::OkStatus();
  }

  absl::Status Apply(const v1::CreateEnrollmentTokenRequest& request) {
    if (dry_run_) {
      // CreateEnrollmentToken has no dry run; the document was checked, which is all we can do.
      Report(absl::StrCat("enrollmenttoken for policy/", request.policy(), " created"),
             {{"kind", "EnrollmentToken"},
              {"policy", request.policy()},
              {"result", "created"},
              {"dryRun", true},
              {"token", nullptr},
              {"secret", nullptr}});
      return absl::OkStatus();
    }
    absl::StatusOr<v1::CreateEnrollmentTokenResponse> response =
        client_.CreateEnrollmentToken(request);
    if (!response.ok()) return response.status();
    Report(absl::StrCat("enrollmenttoken/", response->token().id(), " created for policy/",
                        request.policy(), "; secret (shown once): ", response->secret()),
           {{"kind", "EnrollmentToken"},
            {"policy", request.policy()},
            {"result", "created"},
            {"dryRun", false},
            {"token", EnrollmentTokenToJson(response->token())},
            {"secret", response->secret()}});
    return absl::OkStatus();
  }

  // Prints the collected results (-o json|yaml).
  void Finish() {
    if (format_ != OutputFormat::kTable) WriteStructured(results_, format_, out_);
  }

 private:
  void Report(const std::string& line, nlohmann::ordered_json result) {
    if (format_ == OutputFormat::kTable) {
      out_ << line << (dry_run_ ? " (dry run)" : "") << "\n";
    } else {
      results_.push_back(std::move(result));
    }
  }

  AdminClient& client_;
  const bool dry_run_;
  const OutputFormat format_;
  std::ostream& out_;
  nlohmann::ordered_json results_ = nlohmann::ordered_json::array();
};

// Asks fleetd to check every document before any is applied: each Policy as a dry run (the
// server's own rules: name, description, spec size and depth), and each EnrollmentToken's policy
// exists on the server or among the file's policies. A race can still fail a later document,
// but no document the server would refuse gets half the file applied.
absl::Status Preflight(AdminClient& client, const std::vector<Document>& documents) {
  std::set<std::string> policies_in_file;
  for (const Document& document : documents) {
    if (const auto* policy = std::get_if<v1::ApplyPolicyRequest>(&document)) {
      v1::ApplyPolicyRequest request = *policy;
      request.set_dry_run(true);
      if (absl::Status s = client.ApplyPolicy(request).status(); !s.ok()) return s;
      policies_in_file.insert(policy->name());
    }
  }
  for (const Document& document : documents) {
    const auto* token = std::get_if<v1::CreateEnrollmentTokenRequest>(&document);
    if (token == nullptr || policies_in_file.contains(token->policy())) continue;
    v1::GetPolicyRequest request;
    request.set_name(token->policy());
    if (absl::Status s = client.GetPolicy(request).status(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// A stale status.revision: fleetd's message says who committed the newer revision; add what the
// operator can do about it.
absl::Status Explained(const absl::Status& status, const std::vector<Document>& documents) {
  if (!absl::IsFailedPrecondition(status)) return status;
  for (const Document& document : documents) {
    const auto* policy = std::get_if<v1::ApplyPolicyRequest>(&document);
    if (policy != nullptr && policy->has_expected_revision() &&
        absl::StrContains(status.message(), absl::StrCat("\"", policy->name(), "\""))) {
      return absl::FailedPreconditionError(
          absl::StrCat(status.message(), "; the file is of revision ", policy->expected_revision(),
                       ": see fleetctl diff -f FILE, get the policy again (fleetctl get policy ",
                       policy->name(), " -o yaml), or apply with --force to overwrite"));
    }
  }
  return status;
}

absl::Status RunApply(const ApplyFlags& flags, const GlobalOptions& globals, std::ostream& out) {
  absl::StatusOr<std::vector<Document>> documents = ReadDocuments(flags.file);
  if (!documents.ok()) return documents.status();
  if (flags.force) {
    for (Document& document : *documents) {
      if (auto* policy = std::get_if<v1::ApplyPolicyRequest>(&document)) {
        policy->clear_expected_revision();
      }
    }
  }
  absl::StatusOr<std::unique_ptr<AdminClient>> client = Connect(globals, TokenUse::kRequired);
  if (!client.ok()) return client.status();
  if (!flags.dry_run) {
    if (absl::Status s = Preflight(**client, *documents); !s.ok()) return Explained(s, *documents);
  }
  Applier applier(**client, flags.dry_run, globals.output, out);
  absl::Status status;
  for (const Document& document : *documents) {
    status =
        std::visit([&applier](const auto& request) { return applier.Apply(request); }, document);
    if (!status.ok()) break;
  }
  applier.Finish();
  return Explained(status, *documents);
}

}  // namespace

void AddApplyCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  auto flags = std::make_shared<ApplyFlags>();
  CLI::App* command = app.add_subcommand(
      "apply",
      "Create or update what the documents of a file describe: Policy (ApplyPolicy: prints "
      "created, configured or unchanged, with the revision) and EnrollmentToken (creates one, "
      "prints its secret), in the shapes fleetctl prints (apiVersion fleet/v1, optional; "
      "docs/output.md), or a List of them as `fleetctl get policies -o yaml` prints it. The file "
      "is YAML (documents separated by ---) or JSON (a document or an array of them). Every "
      "document is checked before anything is sent: on any error "
      "nothing is applied. A Policy document with status.revision (as fleetctl get policy -o "
      "yaml prints it) applies only if the policy is still at that revision: when someone "
      "changed it since, nothing is applied, the error says who and when, and the exit code is "
      "4 (see fleetctl diff -f FILE; --force overwrites).");
  SetExamples(command,
              {"fleetctl apply -f policy.yaml", "fleetctl apply -f policy.yaml --dry-run",
               "# Apply what another tool prints\ngenerate-policies | fleetctl apply -f -"});
  command->add_option("-f,--filename", flags->file, "The file to apply, or - for stdin.")
      ->required()
      ->type_name("FILE");
  command->add_flag("--dry-run", flags->dry_run,
                    "Ask fleetd what would happen to each policy, change nothing.");
  command->add_flag("--force", flags->force,
                    "Apply even when a policy changed since the document's status.revision "
                    "(overwriting that change).");
  // Local first: a bad file is reported before any token or connection problem.
  OnLocalCommand(command, action,
                 [&globals, flags](std::ostream& out) { return RunApply(*flags, globals, out); });
}

}  // namespace fleet::cli
