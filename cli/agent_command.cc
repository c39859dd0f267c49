#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/resource_json.h"
#include "cli/resource_tables.h"
#include "cli/selector_flag.h"

namespace fleet::cli {
namespace {

// What every command that changes agents takes: the agents by id or by selector, and --dry-run.
struct SelectFlags {
  std::vector<std::string> ids;
  std::vector<std::string> selectors;
  bool dry_run = false;
};

// Adds --selector and --dry-run to `command`, whose positional ids `flags.ids` holds.
void AddSelectFlags(CLI::App* command, SelectFlags& flags) {
  AddSelectorOption(command, &flags.selectors, "Every agent");
  command->add_flag("--dry-run", flags.dry_run,
                    "Print what would change (fleetd checks everything), change nothing.");
}

// A usage error unless exactly one of ids and -l names the agents.
void RequireOneSelection(const SelectFlags& flags) {
  if (flags.ids.empty() == flags.selectors.empty()) {
    throw CLI::ValidationError(flags.ids.empty()
                                   ? "name the agents by ID (one or more) or by -l SELECTOR"
                                   : "name the agents by ID or by -l SELECTOR, not both");
  }
}

v1::AgentSelection Selection(const SelectFlags& flags) {
  v1::AgentSelection selection;
  for (const std::string& id : flags.ids) selection.add_ids(id);
  selection.set_selector(JoinSelectors(flags.selectors));
  return selection;
}

// One agent's result, as every command that changes something prints it with -o json|yaml
// (docs/output.md): {kind, id, result, dryRun}, plus the agent as it is (or would be) after.
nlohmann::ordered_json AgentResult(const std::string& id, const std::string& result, bool dry_run) {
  return {{"kind", "Agent"}, {"id", id}, {"result", result}, {"dryRun", dry_run}};
}

// Prints what a bulk call did: "agent/ID VERB" a line, "unchanged" for an agent it left as it
// was, " (dry run)" after each for a dry run (-o table); else an array of AgentResults with
// each agent. A selector that matched no agent says so on stderr.
absl::Status PrintChanges(const absl::StatusOr<v1::AgentChangesResponse>& response,
                          const std::string& verb, const SelectFlags& flags, OutputFormat format,
                          std::ostream& out) {
  if (!response.ok()) return response.status();
  if (response->changes().empty()) {
    std::cerr << "No agents match the selector.\n";
    return absl::OkStatus();
  }
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const v1::AgentChange& change : response->changes()) {
    const std::string result = change.changed() ? verb : "unchanged";
    if (format == OutputFormat::kTable) {
      out << "agent/" << change.agent().id() << " " << result << (flags.dry_run ? " (dry run)" : "")
          << "\n";
      continue;
    }
    nlohmann::ordered_json json = AgentResult(change.agent().id(), result, flags.dry_run);
    json["agent"] = AgentToJson(change.agent());
    results.push_back(std::move(json));
  }
  if (format != OutputFormat::kTable) WriteStructured(results, format, out);
  return absl::OkStatus();
}

void AddUnenroll(CLI::App& agent, const GlobalOptions& globals, CommandAction* action) {
  auto flags = std::make_shared<SelectFlags>();
  CLI::App* command = agent.add_subcommand(
      "unenroll",
      "Remove agents, by id or by selector; their credentials stop working at once. One request "
      "for all of them.");
  SetExamples(command, {"fleetctl agent unenroll AGENT_ID",
                        "# What would go, then do it\nfleetctl agent unenroll -l env=retired "
                        "--dry-run\nfleetctl agent unenroll -l env=retired"});
  command->add_option("ID", flags->ids, "Agents' ids (see fleetctl get agents).");
  AddSelectFlags(command, *flags);
  command->parse_complete_callback([flags] { RequireOneSelection(*flags); });
  OnRemoteCommand(command, globals, action,
                  [&globals, flags](AdminClient& client, std::ostream& out) {
                    v1::UnenrollAgentsRequest request;
                    *request.mutable_agents() = Selection(*flags);
                    request.set_dry_run(flags->dry_run);
                    return PrintChanges(client.UnenrollAgents(request), "unenrolled", *flags,
                                        globals.output, out);
                  });
}

void AddReassign(CLI::App& agent, const GlobalOptions& globals, CommandAction* action) {
  struct Flags : SelectFlags {
    std::string policy;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = agent.add_subcommand(
      "reassign",
      "Move agents, by id or by selector, to another policy. One request for all of them.");
  SetExamples(command, {"fleetctl agent reassign AGENT_ID --policy linux-servers",
                        "fleetctl agent reassign -l os=windows --policy windows --dry-run"});
  command->add_option("ID", flags->ids, "Agents' ids (see fleetctl get agents).");
  command->add_option("--policy", flags->policy, "The policy to move them to.")
      ->required()
      ->type_name("NAME");
  AddSelectFlags(command, *flags);
  command->parse_complete_callback([flags] { RequireOneSelection(*flags); });
  OnRemoteCommand(command, globals, action,
                  [&globals, flags](AdminClient& client, std::ostream& out) {
                    v1::ReassignAgentsRequest request;
                    *request.mutable_agents() = Selection(*flags);
                    request.set_policy(flags->policy);
                    request.set_dry_run(flags->dry_run);
                    return PrintChanges(client.ReassignAgents(request),
                                        absl::StrCat("reassigned to policy/", flags->policy),
                                        *flags, globals.output, out);
                  });
}

// "key=value" sets a label, "key-" removes one (kubectl's syntax); anything else is an id.
bool IsLabelArg(const std::string& arg) {
  const size_t equals = arg.find('=');
  if (equals != std::string::npos) return equals > 0;
  return arg.size() > 1 && arg.back() == '-';
}

void AddLabel(CLI::App& agent, const GlobalOptions& globals, CommandAction* action) {
  struct Flags : SelectFlags {
    std::vector<std::string> args;
    bool overwrite = false;
    v1::LabelAgentsRequest request;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = agent.add_subcommand(
      "label",
      "Set (key=value) and remove (key-) labels of agents, by id or by selector, in one "
      "request. A label that has another value is changed only with --overwrite; with several "
      "agents, nothing changes when any would need it.");
  SetExamples(command,
              {"fleetctl agent label AGENT_ID env=prod",
               "# Set one label and remove another on two agents\nfleetctl agent label ID1 ID2 "
               "tier=web canary-",
               "fleetctl agent label -l 'env in (dev,test)' env=staging --overwrite"});
  command
      ->add_option("ARGS", flags->args,
                   "Agents' ids (none with -l), and labels: key=value to set, key- to remove.")
      ->type_name("")
      ->required();
  command->add_flag("--overwrite", flags->overwrite, "Allow a label to change its value.");
  AddSelectFlags(command, *flags);
  command->parse_complete_callback([flags] {
    v1::LabelAgentsRequest& request = flags->request;
    for (const std::string& arg : flags->args) {
      if (!IsLabelArg(arg)) {
        flags->ids.push_back(arg);
      } else if (const size_t equals = arg.find('='); equals == std::string::npos) {
        request.add_remove(arg.substr(0, arg.size() - 1));
      } else {
        (*request.mutable_set())[arg.substr(0, equals)] = arg.substr(equals + 1);
      }
    }
    if (request.set().empty() && request.remove().empty()) {
      throw CLI::ValidationError("give at least one label: key=value to set it, key- to remove it");
    }
    RequireOneSelection(*flags);
  });
  OnRemoteCommand(
      command, globals, action, [&globals, flags](AdminClient& client, std::ostream& out) {
        v1::LabelAgentsRequest request = flags->request;
        *request.mutable_agents() = Selection(*flags);
        request.set_overwrite(flags->overwrite);
        request.set_dry_run(flags->dry_run);
        return PrintChanges(client.LabelAgents(request), "labeled", *flags, globals.output, out);
      });
}

struct RotateFlags : SelectFlags {
  bool all = false;
};

// Prints the agents marked: "agent/ID credential rotation requested" a line (-o table), else an
// array of AgentResults.
void PrintRotated(const v1::RotateAgentCredentialsResponse& response, bool dry_run,
                  OutputFormat format, std::ostream& out) {
  if (format == OutputFormat::kTable) {
    for (const std::string& id : response.ids()) {
      out << "agent/" << id << " credential rotation requested" << (dry_run ? " (dry run)" : "")
          << "\n";
    }
    return;
  }
  nlohmann::ordered_json results = nlohmann::ordered_json::array();
  for (const std::string& id : response.ids()) {
    results.push_back(AgentResult(id, "credential rotation requested", dry_run));
  }
  WriteStructured(results, format, out);
}

void AddRotateCredentials(CLI::App& agent, const GlobalOptions& globals, CommandAction* action) {
  auto flags = std::make_shared<RotateFlags>();
  CLI::App* command = agent.add_subcommand(
      "rotate-credentials",
      "Give agents new secrets: each connected agent gets its new secret on its stream at once, "
      "each offline one when it reconnects; its old secret works until it confirms the new one.");
  SetExamples(command, {"fleetctl agent rotate-credentials AGENT_ID",
                        "fleetctl agent rotate-credentials -l env=prod --dry-run",
                        "fleetctl agent rotate-credentials --all"});
  CLI::Option* ids = command->add_option("ID", flags->ids, "Agents' ids.");
  AddSelectFlags(command, *flags);
  command->add_flag("--all", flags->all, "Every agent.")->excludes(ids);
  command->parse_complete_callback([flags] {
    const int given = !flags->ids.empty() + !flags->selectors.empty() + flags->all;
    if (given != 1) {
      throw CLI::ValidationError("name the agents by ID (one or more), by -l SELECTOR or --all");
    }
  });
  OnRemoteCommand(command, globals, action,
                  [&globals, flags](AdminClient& client, std::ostream& out) {
                    v1::RotateAgentCredentialsRequest request;
                    for (const std::string& id : flags->ids) request.add_ids(id);
                    request.set_selector(JoinSelectors(flags->selectors));
                    request.set_all(flags->all);
                    request.set_dry_run(flags->dry_run);
                    absl::StatusOr<v1::RotateAgentCredentialsResponse> response =
                        client.RotateAgentCredentials(request);
                    if (!response.ok()) return response.status();
                    PrintRotated(*response, flags->dry_run, globals.output, out);
                    return absl::OkStatus();
                  });
}

}  // namespace

void AddAgentCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* agent =
      AddGroup(app, "agent", "Change agents: unenroll, reassign, label, rotate-credentials.");
  SetExamples(agent, {"fleetctl agent label AGENT_ID env=prod",
                      "fleetctl agent unenroll -l env=retired --dry-run"});
  AddUnenroll(*agent, globals, action);
  AddReassign(*agent, globals, action);
  AddLabel(*agent, globals, action);
  AddRotateCredentials(*agent, globals, action);
}

}  // namespace fleet::cli
