#include <memory>
#include <string>

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

void AddDescribePolicy(CLI::App& describe, const GlobalOptions& globals, CommandAction* action) {
  struct Flags {
    std::string name;
    int64_t revision = 0;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = AddCommandWithArg(
      describe, "policy",
      "Show one revision of a policy (the latest by default) in detail, with its spec.", "NAME",
      "The policy's name.", &flags->name);
  SetExamples(command, {"fleetctl describe policy linux-servers",
                        "fleetctl describe policy linux-servers --revision 2"});
  command->add_option("--revision", flags->revision, "A retained revision.")
      ->check(RevisionNumber());
  OnRemoteCommand(command, globals, action,
                  [&globals, flags](AdminClient& client, std::ostream& out) {
                    v1::GetPolicyRequest request;
                    request.set_name(flags->name);
                    request.set_revision(flags->revision);
                    absl::StatusOr<v1::Policy> policy = client.GetPolicy(request);
                    if (!policy.ok()) return policy.status();
                    PrintDetail(globals.output, *policy, &PolicyToJson, &DescribePolicy, out);
                    return absl::OkStatus();
                  });
}

void AddDescribeAgent(CLI::App& describe, const GlobalOptions& globals, CommandAction* action) {
  auto id = std::make_shared<std::string>();
  CLI::App* command = AddCommandWithArg(describe, "agent", "Show one agent in detail.", "ID",
                                        "The agent's id.", id.get());
  SetExamples(command, {"fleetctl describe agent AGENT_ID"});
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
