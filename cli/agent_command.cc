#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/resource_json.h"
#include "cli/resource_tables.h"

namespace fleet::cli {
namespace {

constexpr char kIdHelp[] = "The agent's id (see fleetctl get agents).";

struct AgentFlags {
  std::string id;
  std::string policy;
  std::vector<std::string> labels;
};

// "key=value" sets a label, "key-" removes one (kubectl's syntax).
CLI::Validator LabelValidator() {
  return CLI::Validator(
      [](std::string& arg) -> std::string {
        const bool set = arg.find('=') != std::string::npos && arg.front() != '=';
        const bool remove =
            arg.size() > 1 && arg.back() == '-' && arg.find('=') == std::string::npos;
        return set || remove ? "" : "want key=value to set a label or key- to remove one: " + arg;
      },
      "KEY=VALUE|KEY-");
}

v1::SetAgentLabelsRequest LabelsRequest(const AgentFlags& flags) {
  v1::SetAgentLabelsRequest request;
  request.set_id(flags.id);
  for (const std::string& arg : flags.labels) {
    const size_t equals = arg.find('=');
    if (equals == std::string::npos) {
      request.add_remove(arg.substr(0, arg.size() - 1));
    } else {
      (*request.mutable_set())[arg.substr(0, equals)] = arg.substr(equals + 1);
    }
  }
  return request;
}

// Prints the agent a change returned: "agent/ID VERB" (-o table), else the whole agent.
absl::Status PrintChanged(const absl::StatusOr<v1::Agent>& agent, const std::string& verb,
                          OutputFormat format, std::ostream& out) {
  if (!agent.ok()) return agent.status();
  if (format == OutputFormat::kTable) {
    out << "agent/" << agent->id() << " " << verb << "\n";
  } else {
    WriteStructured(AgentToJson(*agent), format, out);
  }
  return absl::OkStatus();
}

void AddReassign(CLI::App& agent, const GlobalOptions& globals, CommandAction* action) {
  auto flags = std::make_shared<AgentFlags>();
  CLI::App* command = AddCommandWithArg(agent, "reassign", "Move an agent to another policy.", "ID",
                                        kIdHelp, &flags->id);
  SetExamples(command, {"fleetctl agent reassign AGENT_ID --policy linux-servers"});
  command->add_option("--policy", flags->policy, "The policy to move it to.")
      ->required()
      ->type_name("NAME");
  OnRemoteCommand(command, globals, action,
                  [&globals, flags](AdminClient& client, std::ostream& out) {
                    v1::ReassignAgentRequest request;
                    request.set_id(flags->id);
                    request.set_policy(flags->policy);
                    return PrintChanged(client.ReassignAgent(request),
                                        absl::StrCat("reassigned to policy/", flags->policy),
                                        globals.output, out);
                  });
}

void AddLabel(CLI::App& agent, const GlobalOptions& globals, CommandAction* action) {
  auto flags = std::make_shared<AgentFlags>();
  CLI::App* command = AddCommandWithArg(
      agent, "label",
      "Set (key=value) and remove (key-) labels of an agent. Example: fleetctl agent label "
      "ID env=prod tier-",
      "ID", kIdHelp, &flags->id);
  SetExamples(
      command,
      {"fleetctl agent label AGENT_ID env=prod",
       "# Set one label and remove another\nfleetctl agent label AGENT_ID tier=web canary-"});
  command->add_option("LABELS", flags->labels, "key=value to set, key- to remove.")
      ->required()
      ->check(LabelValidator());
  OnRemoteCommand(command, globals, action,
                  [&globals, flags](AdminClient& client, std::ostream& out) {
                    return PrintChanged(client.SetAgentLabels(LabelsRequest(*flags)), "labeled",
                                        globals.output, out);
                  });
}

struct RotateFlags {
  std::vector<std::string> ids;
  std::vector<std::string> selectors;
  bool all = false;
};

// Prints the agents marked: "agent/ID credential rotation requested" a line (-o table), else
// {"ids": [...]}.
void PrintRotated(const v1::RotateAgentCredentialsResponse& response, OutputFormat format,
                  std::ostream& out) {
  if (format == OutputFormat::kTable) {
    for (const std::string& id : response.ids()) {
      out << "agent/" << id << " credential rotation requested\n";
    }
    return;
  }
  WriteStructured(nlohmann::ordered_json{{"ids", std::vector<std::string>(response.ids().begin(),
                                                                          response.ids().end())}},
                  format, out);
}

void AddRotateCredentials(CLI::App& agent, const GlobalOptions& globals, CommandAction* action) {
  auto flags = std::make_shared<RotateFlags>();
  CLI::App* command = agent.add_subcommand(
      "rotate-credentials",
      "Give agents new secrets: each connected agent gets its new secret on its stream at once, "
      "each offline one when it reconnects; its old secret works until it confirms the new one. "
      "Example: fleetctl agent rotate-credentials -l env=prod");
  SetExamples(command, {"fleetctl agent rotate-credentials AGENT_ID",
                        "fleetctl agent rotate-credentials -l env=prod",
                        "fleetctl agent rotate-credentials --all"});
  CLI::Option* ids = command->add_option("ID", flags->ids, "Agents' ids.");
  CLI::Option* selector =
      command
          ->add_option("--selector,-l", flags->selectors,
                       "Every agent whose labels match: key=value or key!=value terms, comma-"
                       "separated or repeated, all of which must hold.")
          ->type_name("SELECTOR")
          ->excludes(ids);
  command->add_flag("--all", flags->all, "Every agent.")->excludes(ids)->excludes(selector);
  // One of the three, whichever: the others are excluded above.
  command->require_option(1);
  OnRemoteCommand(command, globals, action,
                  [&globals, flags](AdminClient& client, std::ostream& out) {
                    v1::RotateAgentCredentialsRequest request;
                    for (const std::string& id : flags->ids) request.add_ids(id);
                    request.set_selector(absl::StrJoin(flags->selectors, ","));
                    request.set_all(flags->all);
                    absl::StatusOr<v1::RotateAgentCredentialsResponse> response =
                        client.RotateAgentCredentials(request);
                    if (!response.ok()) return response.status();
                    PrintRotated(*response, globals.output, out);
                    return absl::OkStatus();
                  });
}

}  // namespace

void AddAgentCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* agent =
      AddGroup(app, "agent", "Change agents: unenroll, reassign, label, rotate-credentials.");
  SetExamples(agent,
              {"fleetctl agent label AGENT_ID env=prod", "fleetctl agent unenroll AGENT_ID"});
  AddIdCommand(*agent, "unenroll", "Remove an agent; its credentials stop working at once.",
               globals, action, "Agent", "unenrolled",
               [](AdminClient& client, const std::string& id) {
                 v1::UnenrollAgentRequest request;
                 request.set_id(id);
                 return client.UnenrollAgent(request).status();
               });
  SetExamples(agent->get_subcommand("unenroll"), {"fleetctl agent unenroll AGENT_ID"});
  AddReassign(*agent, globals, action);
  AddLabel(*agent, globals, action);
  AddRotateCredentials(*agent, globals, action);
}

}  // namespace fleet::cli
