#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/flag_values.h"
#include "cli/policy_specs.h"
#include "cli/resource_json.h"
#include "cli/resource_tables.h"
#include "cli/selector_flag.h"

namespace fleet::cli {
namespace {

// fleetd's largest page (admin.proto): fewer round trips for big lists.
constexpr int32_t kMaxPageSize = 500;

// The flags every `get` list takes.
struct ListFlags {
  bool no_headers = false;
  std::string sort_by;
  int64_t limit = 0;  // 0: all
};

// Adds --no-headers, --sort-by (a column of `spec`, checked while parsing: a usage error names
// the columns) and --limit.
template <typename T>
void AddListFlags(CLI::App* command, const TableSpec<T>& spec, ListFlags* flags) {
  command->add_flag("--no-headers", flags->no_headers,
                    "Tables (-o table, wide): leave out the header row.");
  command
      ->add_option("--sort-by", flags->sort_by,
                   absl::StrCat("Sort by this column (any -o; ties by name or id): one of ",
                                absl::StrJoin(SortColumns(spec), ", "),
                                ". Default: ", absl::AsciiStrToLower(spec.default_sort),
                                ". Times sort oldest first. Example: --sort-by ",
                                absl::AsciiStrToLower(spec.columns[1].header)))
      ->type_name("COLUMN")
      ->check(CLI::Validator(
          [&spec](const std::string& value) { return CheckSortColumn(spec, value); }, ""));
  command
      ->add_option("--limit", flags->limit,
                   "At most N items. Policies and agents: fleetd is asked for the first N in its "
                   "order (policies by name, agents by id), which are then sorted; tokens: the "
                   "first N once sorted. Default: all, read page by page.")
      ->type_name("N")
      ->check(PositiveCount());
}

// Calls `list` from the first page on, handing each page to `take`, which returns how many items
// it has taken in all; stops after the last page or once `limit` (0: none) items are taken.
template <typename Request, typename List, typename Take>
absl::Status ForEachPage(Request request, int64_t limit, List list, Take take) {
  do {
    if (limit > 0)
      request.set_page_size(static_cast<int32_t>(std::min<int64_t>(limit, kMaxPageSize)));
    auto page = list(request);
    if (!page.ok()) return page.status();
    const int64_t taken = take(*page);
    if (limit > 0 && taken >= limit) break;
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty());
  return absl::OkStatus();
}

// Prints `rows` as `globals` and `flags` say: sorted, at most --limit of them; a table, or
// KIND/NAME lines, or (json, yaml) PrintList's array of to_json(row). An empty table or name list
// says "No resources found" on stderr instead, as kubectl does.
template <typename Row, typename T>
void PrintRowsAs(const GlobalOptions& globals, const ListFlags& flags, const TableSpec<Row>& spec,
                 std::vector<Row> rows, const T& (*item)(const Row&),
                 nlohmann::ordered_json (*to_json)(const T&),
                 void (*write_table)(const Items<T>&, std::ostream&), std::ostream& out) {
  SortRows(spec, flags.sort_by, rows);
  if (flags.limit > 0 && static_cast<int64_t>(rows.size()) > flags.limit) rows.resize(flags.limit);
  if (globals.output != OutputFormat::kTable) {
    Items<T> items;
    for (const Row& row : rows) *items.Add() = item(row);
    PrintList(globals.output, items, to_json, write_table, out);
    return;
  }
  if (rows.empty()) {
    std::cerr << "No resources found\n";
    return;
  }
  PrintRows(spec, rows, TableOptions{.style = globals.table_style, .headers = !flags.no_headers},
            absl::Now(), out);
}

template <typename T>
const T& Same(const T& row) {
  return row;
}

const v1::Policy& PolicyOf(const PolicyRow& row) { return row.policy; }

// Prints one item found by name or id: as a one-row table (--no-headers as for lists) or KIND/NAME
// line, else PrintOne's object.
template <typename Row, typename T>
void PrintSingle(const GlobalOptions& globals, const ListFlags& flags, const TableSpec<Row>& spec,
                 const Row& row, const T& (*item)(const Row&),
                 nlohmann::ordered_json (*to_json)(const T&),
                 void (*write_table)(const Items<T>&, std::ostream&), std::ostream& out) {
  if (globals.output != OutputFormat::kTable) {
    PrintOne(globals.output, item(row), to_json, write_table, out);
    return;
  }
  PrintRows(spec, std::vector<Row>{row},
            TableOptions{.style = globals.table_style, .headers = !flags.no_headers}, absl::Now(),
            out);
}

void AddGetPolicies(CLI::App& get, const GlobalOptions& globals, CommandAction* action) {
  struct Flags {
    std::string name;
    int64_t revision = 0;
    std::vector<std::string> selectors;
    ListFlags list;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = get.add_subcommand(
      "policies",
      "List the latest revision of every policy with its rollout (AGENTS assigned, how many ACKED "
      "the latest revision, NACKED it, are PENDING), or show one policy (NAME), at --revision or "
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
  AddListFlags(command, PolicyTable(), &flags->list);
  OnRemoteCommand(
      command, globals, action, [&globals, flags](AdminClient& client, std::ostream& out) {
        if (!flags->name.empty()) {
          v1::GetPolicyRequest request;
          request.set_name(flags->name);
          request.set_revision(flags->revision);
          absl::StatusOr<v1::Policy> policy = client.GetPolicy(request);
          if (!policy.ok()) return policy.status();
          PolicyRow row{*policy, std::nullopt};
          if (globals.output == OutputFormat::kTable) {
            v1::GetRolloutStatusRequest rollout_request;
            rollout_request.set_policy(policy->name());
            rollout_request.set_revision(policy->revision());
            absl::StatusOr<v1::RolloutStatus> rollout = client.GetRolloutStatus(rollout_request);
            if (!rollout.ok()) return rollout.status();
            row.rollout = *rollout;
          }
          PrintSingle(globals, flags->list, PolicyTable(), row, &PolicyOf, &PolicyToJson,
                      &WritePolicyTable, out);
          return absl::OkStatus();
        }
        std::vector<PolicyRow> rows;
        v1::ListPoliciesRequest list;
        list.set_selector(JoinSelectors(flags->selectors));
        absl::Status listed = ForEachPage(
            list, flags->list.limit,
            [&client](const v1::ListPoliciesRequest& request) {
              return client.ListPolicies(request);
            },
            [&rows, limit = flags->list.limit](const v1::ListPoliciesResponse& page) {
              for (int i = 0; i < page.policies_size(); ++i) {
                if (limit > 0 && static_cast<int64_t>(rows.size()) >= limit) break;
                PolicyRow& row = rows.emplace_back(PolicyRow{page.policies(i), std::nullopt});
                if (i < page.rollouts_size()) row.rollout = page.rollouts(i);
              }
              return static_cast<int64_t>(rows.size());
            });
        if (!listed.ok()) return listed;
        if (globals.output != OutputFormat::kTable) {
          // Documents that apply -f takes back carry their specs, which lists leave out.
          // The rollouts stay with their policies, for --sort-by.
          google::protobuf::RepeatedPtrField<v1::Policy> policies;
          std::map<std::string, std::optional<v1::RolloutStatus>> rollouts;
          for (const PolicyRow& row : rows) {
            *policies.Add() = row.policy;
            rollouts[row.policy.name()] = row.rollout;
          }
          if (absl::Status specs = FetchPolicySpecs(client, policies); !specs.ok()) return specs;
          rows.clear();
          for (v1::Policy& policy : policies) {
            std::optional<v1::RolloutStatus> rollout = rollouts[policy.name()];
            rows.push_back(PolicyRow{std::move(policy), std::move(rollout)});
          }
        }
        PrintRowsAs(globals, flags->list, PolicyTable(), std::move(rows), &PolicyOf, &PolicyToJson,
                    &WritePolicyTable, out);
        return absl::OkStatus();
      });
}

void AddGetTokens(CLI::App& get, const GlobalOptions& globals, CommandAction* action) {
  struct Flags {
    std::string policy;
    ListFlags list;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = get.add_subcommand(
      "tokens", "List enrollment tokens (never their secrets), of one --policy or of all.");
  SetExamples(command,
              {"fleetctl get tokens", "fleetctl get tokens --policy linux-servers -o json"});
  command->alias("token");
  command->add_option("--policy", flags->policy, "Only this policy's tokens.")->type_name("NAME");
  AddListFlags(command, EnrollmentTokenTable(), &flags->list);
  OnRemoteCommand(
      command, globals, action, [&globals, flags](AdminClient& client, std::ostream& out) {
        v1::ListEnrollmentTokensRequest request;
        request.set_policy(flags->policy);
        absl::StatusOr<v1::ListEnrollmentTokensResponse> response =
            client.ListEnrollmentTokens(request);
        if (!response.ok()) return response.status();
        std::vector<v1::EnrollmentToken> rows(response->tokens().begin(), response->tokens().end());
        PrintRowsAs(globals, flags->list, EnrollmentTokenTable(), std::move(rows),
                    &Same<v1::EnrollmentToken>, &EnrollmentTokenToJson, &WriteEnrollmentTokenTable,
                    out);
        return absl::OkStatus();
      });
}

// --status of get agents: a connection status (ListAgentsRequest.status) or how far the agent
// got with its policy's latest revision (ListAgentsRequest.rollout), filtered by fleetd.
struct AgentStatusFilter {
  v1::AgentStatus status = v1::AGENT_STATUS_UNSPECIFIED;
  v1::AgentRollout rollout = v1::AGENT_ROLLOUT_UNSPECIFIED;
};

const std::map<std::string, AgentStatusFilter>& AgentStatusFilters() {
  static const auto* const filters = new std::map<std::string, AgentStatusFilter>{
      {"online", {.status = v1::AGENT_STATUS_ONLINE}},
      {"offline", {.status = v1::AGENT_STATUS_OFFLINE}},
      {"acked", {.rollout = v1::AGENT_ROLLOUT_ACKED}},
      {"nacked", {.rollout = v1::AGENT_ROLLOUT_NACKED}},
      {"pending", {.rollout = v1::AGENT_ROLLOUT_PENDING}}};
  return *filters;
}

struct AgentFilter {
  std::string id;
  std::string policy;
  std::string status;
  std::vector<std::string> selectors;
  ListFlags list;
};

absl::Status ListAgents(AdminClient& client, const AgentFilter& filter,
                        const GlobalOptions& globals, std::ostream& out) {
  v1::ListAgentsRequest request;
  request.set_policy(filter.policy);
  if (!filter.status.empty()) {
    const AgentStatusFilter& status = AgentStatusFilters().at(absl::AsciiStrToLower(filter.status));
    request.set_status(status.status);
    request.set_rollout(status.rollout);
  }
  request.set_selector(JoinSelectors(filter.selectors));
  std::vector<v1::Agent> rows;
  absl::Status listed = ForEachPage(
      request, filter.list.limit,
      [&client](const v1::ListAgentsRequest& page) { return client.ListAgents(page); },
      [&rows, limit = filter.list.limit](const v1::ListAgentsResponse& page) {
        for (const v1::Agent& agent : page.agents()) {
          if (limit > 0 && static_cast<int64_t>(rows.size()) >= limit) break;
          rows.push_back(agent);
        }
        return static_cast<int64_t>(rows.size());
      });
  if (!listed.ok()) return listed;
  PrintRowsAs(globals, filter.list, AgentTable(), std::move(rows), &Same<v1::Agent>, &AgentToJson,
              &WriteAgentTable, out);
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
  command
      ->add_option("--status", filter->status,
                   "Only agents that are: online or offline (connected to fleetd or not); "
                   "acked (applied their policy's latest revision), nacked (refused it) or "
                   "pending (neither yet, online or not). fleetd filters, page by page.")
      ->type_name("online|offline|acked|nacked|pending")
      ->check(CLI::Validator(
          [](const std::string& value) -> std::string {
            if (AgentStatusFilters().contains(absl::AsciiStrToLower(value))) return "";
            return absl::StrCat(
                "\"", value, "\": want ",
                AlternativesText({"online", "offline", "acked", "nacked", "pending"}));
          },
          ""))
      ->excludes(id);
  AddSelectorOption(command, &filter->selectors, "Only agents")->excludes(id);
  AddListFlags(command, AgentTable(), &filter->list);
  OnRemoteCommand(command, globals, action,
                  [&globals, filter](AdminClient& client, std::ostream& out) {
                    if (filter->id.empty()) return ListAgents(client, *filter, globals, out);
                    v1::GetAgentRequest request;
                    request.set_id(filter->id);
                    absl::StatusOr<v1::Agent> agent = client.GetAgent(request);
                    if (!agent.ok()) return agent.status();
                    PrintSingle(globals, filter->list, AgentTable(), *agent, &Same<v1::Agent>,
                                &AgentToJson, &WriteAgentTable, out);
                    return absl::OkStatus();
                  });
}

void AddGetAdminTokens(CLI::App& get, const GlobalOptions& globals, CommandAction* action) {
  auto flags = std::make_shared<ListFlags>();
  CLI::App* command =
      get.add_subcommand("admin-tokens", "List admin tokens (never their secrets). Role: admin.");
  SetExamples(command, {"fleetctl get admin-tokens", "fleetctl get admin-tokens -o json"});
  command->alias("admin-token");
  AddListFlags(command, AdminTokenTable(), flags.get());
  OnRemoteCommand(
      command, globals, action, [&globals, flags](AdminClient& client, std::ostream& out) {
        absl::StatusOr<v1::ListAdminTokensResponse> response = client.ListAdminTokens();
        if (!response.ok()) return response.status();
        std::vector<v1::AdminToken> rows(response->tokens().begin(), response->tokens().end());
        PrintRowsAs(globals, *flags, AdminTokenTable(), std::move(rows), &Same<v1::AdminToken>,
                    &AdminTokenToJson, &WriteAdminTokenTable, out);
        return absl::OkStatus();
      });
}

void AddGetActions(CLI::App& get, const GlobalOptions& globals, CommandAction* action) {
  struct Flags {
    std::string id;
    v1::ActionState state = v1::ACTION_STATE_UNSPECIFIED;
    ListFlags list;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = get.add_subcommand(
      "actions",
      "List actions with how many of their targets are in each state (-o wide: every state; they "
      "add up to TARGETS), or show one action (ID). STATE: active while some target is not "
      "final; then cancelled, expired (some target expired) or done. --state done lists every "
      "finished action.");
  SetExamples(command, {"fleetctl get actions", "fleetctl get actions --state active -o wide",
                        "fleetctl get action 3f9c2a7b1e04 -o yaml"});
  command->alias("action");
  CLI::Option* id = command->add_option("ID", flags->id, "An action's id.");
  NamedValues(
      command->add_option("--state", flags->state, "Only actions in this state (fleetd filters)."),
      ActionStatesByName())
      ->excludes(id);
  AddListFlags(command, ActionTable(), &flags->list);
  OnRemoteCommand(
      command, globals, action, [&globals, flags](AdminClient& client, std::ostream& out) {
        if (!flags->id.empty()) {
          v1::GetActionRequest request;
          request.set_id(flags->id);
          absl::StatusOr<v1::Action> got = client.GetAction(request);
          if (!got.ok()) return got.status();
          PrintSingle(globals, flags->list, ActionTable(), *got, &Same<v1::Action>, &ActionToJson,
                      &WriteActionTable, out);
          return absl::OkStatus();
        }
        v1::ListActionsRequest request;
        request.set_state(flags->state);
        std::vector<v1::Action> rows;
        absl::Status listed = ForEachPage(
            request, flags->list.limit,
            [&client](const v1::ListActionsRequest& page) { return client.ListActions(page); },
            [&rows, limit = flags->list.limit](const v1::ListActionsResponse& page) {
              for (const v1::Action& one : page.actions()) {
                if (limit > 0 && static_cast<int64_t>(rows.size()) >= limit) break;
                rows.push_back(one);
              }
              return static_cast<int64_t>(rows.size());
            });
        if (!listed.ok()) return listed;
        PrintRowsAs(globals, flags->list, ActionTable(), std::move(rows), &Same<v1::Action>,
                    &ActionToJson, &WriteActionTable, out);
        return absl::OkStatus();
      });
}

}  // namespace

void AddGetCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* get = AddGroup(
      app, "get", "List resources, or show one: policies, tokens, agents, admin-tokens, actions.");
  SetExamples(get, {"fleetctl get policies", "fleetctl get agents -l env=prod"});
  AddGetPolicies(*get, globals, action);
  AddGetTokens(*get, globals, action);
  AddGetAgents(*get, globals, action);
  AddGetAdminTokens(*get, globals, action);
  AddGetActions(*get, globals, action);
}

}  // namespace fleet::cli
