#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flag_values.h"
#include "cli/policy_specs.h"
#include "cli/resource_json.h"
#include "cli/resource_tables.h"
#include "cli/selector_flag.h"

namespace fleet::cli {
namespace {

// Calls `list` from the first page to the last, handing each page to `take`.
template <typename Request, typename List, typename Take>
absl::Status ForEachPage(Request request, List list, Take take) {
  do {
    auto page = list(request);
    if (!page.ok()) return page.status();
    take(*page);
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty());
  return absl::OkStatus();
}

void AddGetPolicies(CLI::App& get, const GlobalOptions& globals, CommandAction* action) {
  struct Flags {
    std::string name;
    int64_t revision = 0;
    std::vector<std::string> selectors;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = get.add_subcommand(
      "policies",
      "List the latest revision of every policy, or show one policy (NAME), at --revision or "
      "its latest. -o yaml prints a document `fleetctl apply -f` takes back.");
  SetExamples(command, {"fleetctl get policies",
                        "fleetctl get policy linux-servers -o yaml > linux-servers.yaml",
                        "fleetctl get policy linux-servers --revision 3"});
  command->alias("policy");
  CLI::Option* name = command->add_option("NAME", flags->name, "A policy's name.");
  command->add_option("--revision", flags->revision, "A retained revision of policy NAME.")
      ->check(RevisionNumber())
      ->needs(name);
  AddSelectorOption(command, &flags->selectors, "Only policies")->excludes(name);
  OnRemoteCommand(
      command, globals, action, [&globals, flags](AdminClient& client, std::ostream& out) {
        if (!flags->name.empty()) {
          v1::GetPolicyRequest request;
          request.set_name(flags->name);
          request.set_revision(flags->revision);
          absl::StatusOr<v1::Policy> policy = client.GetPolicy(request);
          if (!policy.ok()) return policy.status();
          PrintOne(globals.output, *policy, &PolicyToJson, &WritePolicyTable, out);
          return absl::OkStatus();
        }
        v1::ListPoliciesResponse all;
        v1::ListPoliciesRequest list;
        list.set_selector(JoinSelectors(flags->selectors));
        absl::Status listed = ForEachPage(
            list,
            [&client](const v1::ListPoliciesRequest& request) {
              return client.ListPolicies(request);
            },
            [&all](const v1::ListPoliciesResponse& page) {
              all.mutable_policies()->MergeFrom(page.policies());
            });
        if (!listed.ok()) return listed;
        if (globals.output != OutputFormat::kTable) {
          if (absl::Status specs = FetchPolicySpecs(client, *all.mutable_policies()); !specs.ok()) {
            return specs;
          }
        }
        PrintList(globals.output, all.policies(), &PolicyToJson, &WritePolicyTable, out);
        return absl::OkStatus();
      });
}

void AddGetTokens(CLI::App& get, const GlobalOptions& globals, CommandAction* action) {
  auto policy = std::make_shared<std::string>();
  CLI::App* command = get.add_subcommand(
      "tokens", "List enrollment tokens (never their secrets), of one --policy or of all.");
  SetExamples(command,
              {"fleetctl get tokens", "fleetctl get tokens --policy linux-servers -o json"});
  command->alias("token");
  command->add_option("--policy", *policy, "Only this policy's tokens.")->type_name("NAME");
  OnRemoteCommand(command, globals, action,
                  [&globals, policy](AdminClient& client, std::ostream& out) {
                    v1::ListEnrollmentTokensRequest request;
                    request.set_policy(*policy);
                    absl::StatusOr<v1::ListEnrollmentTokensResponse> response =
                        client.ListEnrollmentTokens(request);
                    if (!response.ok()) return response.status();
                    PrintList(globals.output, response->tokens(), &EnrollmentTokenToJson,
                              &WriteEnrollmentTokenTable, out);
                    return absl::OkStatus();
                  });
}

struct AgentFilter {
  std::string id;
  std::string policy;
  v1::AgentStatus status = v1::AGENT_STATUS_UNSPECIFIED;
  std::vector<std::string> selectors;
};

absl::Status ListAgents(AdminClient& client, const AgentFilter& filter, OutputFormat format,
                        std::ostream& out) {
  v1::ListAgentsRequest request;
  request.set_policy(filter.policy);
  request.set_status(filter.status);
  request.set_selector(JoinSelectors(filter.selectors));
  v1::ListAgentsResponse all;
  absl::Status listed = ForEachPage(
      request, [&client](const v1::ListAgentsRequest& page) { return client.ListAgents(page); },
      [&all](const v1::ListAgentsResponse& page) {
        all.mutable_agents()->MergeFrom(page.agents());
      });
  if (!listed.ok()) return listed;
  PrintList(format, all.agents(), &AgentToJson, &WriteAgentTable, out);
  return absl::OkStatus();
}

void AddGetAgents(CLI::App& get, const GlobalOptions& globals, CommandAction* action) {
  auto filter = std::make_shared<AgentFilter>();
  CLI::App* command = get.add_subcommand(
      "agents", "List agents, all or those matching every filter given, or show one agent (ID).");
  SetExamples(command, {"fleetctl get agents", "fleetctl get agents -l env=prod --status offline",
                        "fleetctl get agent AGENT_ID -o yaml"});
  command->alias("agent");
  CLI::Option* id = command->add_option("ID", filter->id, "An agent's id.");
  command->add_option("--policy", filter->policy, "Only agents assigned to this policy.")
      ->type_name("NAME")
      ->excludes(id);
  NamedValues(command->add_option("--status", filter->status,
                                  "Only agents with this status: online or offline."),
              AgentStatusesByName())
      ->excludes(id);
  AddSelectorOption(command, &filter->selectors, "Only agents")->excludes(id);
  OnRemoteCommand(command, globals, action,
                  [&globals, filter](AdminClient& client, std::ostream& out) {
                    if (filter->id.empty()) return ListAgents(client, *filter, globals.output, out);
                    v1::GetAgentRequest request;
                    request.set_id(filter->id);
                    absl::StatusOr<v1::Agent> agent = client.GetAgent(request);
                    if (!agent.ok()) return agent.status();
                    PrintOne(globals.output, *agent, &AgentToJson, &WriteAgentTable, out);
                    return absl::OkStatus();
                  });
}

void AddGetAdminTokens(CLI::App& get, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* command =
      get.add_subcommand("admin-tokens", "List admin tokens (never their secrets). Role: admin.");
  SetExamples(command, {"fleetctl get admin-tokens", "fleetctl get admin-tokens -o json"});
  command->alias("admin-token");
  OnRemoteCommand(command, globals, action, [&globals](AdminClient& client, std::ostream& out) {
    absl::StatusOr<v1::ListAdminTokensResponse> response = client.ListAdminTokens();
    if (!response.ok()) return response.status();
    PrintList(globals.output, response->tokens(), &AdminTokenToJson, &WriteAdminTokenTable, out);
    return absl::OkStatus();
  });
}

}  // namespace

void AddGetCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* get =
      AddGroup(app, "get", "List resources, or show one: policies, tokens, agents, admin-tokens.");
  SetExamples(get, {"fleetctl get policies", "fleetctl get agents -l env=prod"});
  AddGetPolicies(*get, globals, action);
  AddGetTokens(*get, globals, action);
  AddGetAgents(*get, globals, action);
  AddGetAdminTokens(*get, globals, action);
}

}  // namespace fleet::cli
