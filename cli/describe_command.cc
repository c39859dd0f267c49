#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/flag_values.h"
#include "cli/resource_json.h"
#include "cli/resource_tables.h"

namespace fleet::cli {
namespace {

// Prints `item` in detail with `describe` (-o table), else as JSON/YAML.
template <typename T>
void PrintDetail(OutputFormat format, const T& item, nlohmann::ordered_json (*to_json)(const T&),
                 void (*describe)(const T&, std::ostream&), std::ostream& out) {
  if (format == OutputFormat::kTable) {
    describe(item, out);
  } else {
    WriteStructured(to_json(item), format, out);
  }
}

// How many of a policy's newest revisions `describe policy` lists.
constexpr int kDescribedRevisions = 5;

// `policy` with the rollout of its revision, its newest revisions and its enrollment tokens.
absl::StatusOr<PolicyDetail> ReadPolicyDetail(AdminClient& client, v1::Policy policy) {
  PolicyDetail detail;
  v1::GetRolloutStatusRequest rollout;
  rollout.set_policy(policy.name());
  rollout.set_revision(policy.revision());
  absl::StatusOr<v1::RolloutStatus> status = client.GetRolloutStatus(rollout);
  if (!status.ok()) return status.status();
  detail.rollout = *std::move(status);
  v1::GetPolicyHistoryRequest history;
  history.set_name(policy.name());
  absl::StatusOr<v1::GetPolicyHistoryResponse> revisions = client.GetPolicyHistory(history);
  if (!revisions.ok()) return revisions.status();
  for (const v1::Policy& revision : revisions->revisions()) {
    if (static_cast<int>(detail.revisions.size()) == kDescribedRevisions) break;
    detail.revisions.push_back(revision);
  }
  v1::ListEnrollmentTokensRequest tokens;
  tokens.set_policy(policy.name());
  absl::StatusOr<v1::ListEnrollmentTokensResponse> listed = client.ListEnrollmentTokens(tokens);
  if (!listed.ok()) return listed.status();
  detail.tokens.assign(listed->tokens().begin(), listed->tokens().end());
  std::stable_sort(detail.tokens.begin(), detail.tokens.end(),
                   [](const v1::EnrollmentToken& a, const v1::EnrollmentToken& b) {
                     return a.created_at().seconds() < b.created_at().seconds();
                   });
  detail.policy = std::move(policy);
  return detail;
}

void AddDescribePolicy(CLI::App& describe, const GlobalOptions& globals, CommandAction* action) {
  struct Flags {
    std::string name;
    int64_t revision = 0;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = AddCommandWithArg(
      describe, "policy",
      "Show one revision of a policy (the latest by default) in detail: its spec, its rollout, "
      "its newest revisions and its enrollment tokens.",
      "NAME", "The policy's name.", &flags->name);
  SetExamples(command, {"fleetctl describe policy linux-servers",
                        "fleetctl describe policy linux-servers --revision 2"});
  command->add_option("--revision", flags->revision, "A retained revision.")
      ->check(RevisionNumber());
  OnRemoteCommand(
      command, globals, action, [&globals, flags](AdminClient& client, std::ostream& out) {
        v1::GetPolicyRequest request;
        request.set_name(flags->name);
        request.set_revision(flags->revision);
        absl::StatusOr<v1::Policy> policy = client.GetPolicy(request);
        if (!policy.ok()) return policy.status();
        if (globals.output != OutputFormat::kTable) {
          WriteStructured(PolicyToJson(*policy), globals.output, out);
          return absl::OkStatus();
        }
        absl::StatusOr<PolicyDetail> detail = ReadPolicyDetail(client, *std::move(policy));
        if (!detail.ok()) return detail.status();
        DescribePolicy(*detail, absl::Now(), out);
        return absl::OkStatus();
      });
}

void AddDescribeAgent(CLI::App& describe, const GlobalOptions& globals, CommandAction* action) {
  auto id = std::make_shared<std::string>();
  CLI::App* command = AddCommandWithArg(describe, "agent", "Show one agent in detail.", "ID",
                                        "The agent's id.", id.get());
  SetExamples(command, {"fleetctl describe agent AGENT_ID",
                        "# The agents a policy could not apply, then one of them\nfleetctl get "
                        "agents --status nacked\nfleetctl describe agent AGENT_ID"});
  OnRemoteCommand(command, globals, action, [&globals, id](AdminClient& client, std::ostream& out) {
    v1::GetAgentRequest request;
    request.set_id(*id);
    absl::StatusOr<v1::Agent> agent = client.GetAgent(request);
    if (!agent.ok()) return agent.status();
    PrintDetail(globals.output, *agent, &AgentToJson, &DescribeAgent, out);
    return absl::OkStatus();
  });
}

}  // namespace

void AddDescribeCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* describe =
      AddGroup(app, "describe", "Show one resource in detail: policy NAME, agent ID.");
  SetExamples(describe,
              {"fleetctl describe policy linux-servers", "fleetctl describe agent AGENT_ID"});
  AddDescribePolicy(*describe, globals, action);
  AddDescribeAgent(*describe, globals, action);
}

}  // namespace fleet::cli
