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

// The order `describe action` lists targets that have not succeeded in: problems first.
constexpr v1::ActionTargetState kNotSucceeded[] = {
    v1::ACTION_TARGET_FAILED,    v1::ACTION_TARGET_REJECTED, v1::ACTION_TARGET_EXPIRED,
    v1::ACTION_TARGET_CANCELLED, v1::ACTION_TARGET_RUNNING,  v1::ACTION_TARGET_DELIVERED,
    v1::ACTION_TARGET_PENDING};

// How many targets `describe action` lists unless --limit says otherwise.
constexpr int64_t kDescribedTargets = 100;

// fleetd's largest page of targets (admin.proto ListActionTargetsRequest).
constexpr int32_t kTargetPageSize = 1000;

int64_t CountIn(const v1::ActionCounts& counts, v1::ActionTargetState state) {
  switch (state) {
    case v1::ACTION_TARGET_PENDING:
      return counts.pending();
    case v1::ACTION_TARGET_DELIVERED:
      return counts.delivered();
    case v1::ACTION_TARGET_RUNNING:
      return counts.running();
    case v1::ACTION_TARGET_FAILED:
      return counts.failed();
    case v1::ACTION_TARGET_REJECTED:
      return counts.rejected();
    case v1::ACTION_TARGET_EXPIRED:
      return counts.expired();
    case v1::ACTION_TARGET_CANCELLED:
      return counts.cancelled();
    default:
      return 0;
  }
}

// `action` with up to `limit` (0: all) of its targets that have not succeeded, read state by
// state (only states the counts say have targets) and page by page.
absl::StatusOr<ActionDetail> ReadActionDetail(AdminClient& client, v1::Action action,
                                              int64_t limit) {
  ActionDetail detail;
  int64_t not_succeeded = 0;
  for (v1::ActionTargetState state : kNotSucceeded) {
    not_succeeded += CountIn(action.counts(), state);
  }
  for (v1::ActionTargetState state : kNotSucceeded) {
    if (CountIn(action.counts(), state) == 0) continue;
    v1::ListActionTargetsRequest request;
    request.set_id(action.id());
    request.set_state(state);
    // Bounded by the action's targets: each page holds at least one or ends the listing.
    do {
      const int64_t wanted =
          limit > 0 ? limit - static_cast<int64_t>(detail.targets.size()) : kTargetPageSize;
      if (wanted <= 0) break;
      request.set_page_size(static_cast<int32_t>(std::min<int64_t>(wanted, kTargetPageSize)));
      absl::StatusOr<v1::ListActionTargetsResponse> page = client.ListActionTargets(request);
      if (!page.ok()) return page.status();
      for (const v1::ActionTarget& target : page->targets()) {
        if (limit > 0 && static_cast<int64_t>(detail.targets.size()) >= limit) break;
        detail.targets.push_back(target);
      }
      if (page->targets().empty()) break;
      request.set_page_token(page->next_page_token());
    } while (!request.page_token().empty());
  }
  detail.more_targets =
      std::max<int64_t>(0, not_succeeded - static_cast<int64_t>(detail.targets.size()));
  detail.action = std::move(action);
  return detail;
}

void AddDescribeAction(CLI::App& describe, const GlobalOptions& globals, CommandAction* action) {
  struct Flags {
    std::string id;
    int64_t limit = kDescribedTargets;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = AddCommandWithArg(
      describe, "action",
      "Show one action in detail: its type, arguments, targets as asked, times, the count of "
      "targets in each state, and the targets that have not succeeded (failed, rejected, "
      "expired, cancelled, running, delivered, pending, in that order) with their message. -o "
      "json|yaml: the Action, and those targets under status.targets.",
      "ID", "The action's id (see fleetctl get actions).", &flags->id);
  SetExamples(command,
              {"fleetctl describe action 3f9c2a7b1e04",
               "# Every target that has not succeeded, for a script\nfleetctl describe action "
               "3f9c2a7b1e04 --limit 0 -o json | jq '.status.targets[].agentId'"});
  command
      ->add_option("--limit", flags->limit,
                   "List at most N of the targets that have not succeeded; 0: all. Default: 100.")
      ->type_name("N")
      ->check(Count());
  OnRemoteCommand(command, globals, action,
                  [&globals, flags](AdminClient& client, std::ostream& out) {
                    v1::GetActionRequest request;
                    request.set_id(flags->id);
                    absl::StatusOr<v1::Action> got = client.GetAction(request);
                    if (!got.ok()) return got.status();
                    absl::StatusOr<ActionDetail> detail =
                        ReadActionDetail(client, *std::move(got), flags->limit);
                    if (!detail.ok()) return detail.status();
                    if (globals.output != OutputFormat::kTable) {
                      nlohmann::ordered_json json = ActionToJson(detail->action);
                      json["status"]["targets"] = nlohmann::ordered_json::array();
                      for (const v1::ActionTarget& target : detail->targets) {
                        json["status"]["targets"].push_back(ActionTargetToJson(target));
                      }
                      WriteStructured(json, globals.output, out);
                      return absl::OkStatus();
                    }
                    DescribeAction(*detail, absl::Now(), out);
                    return absl::OkStatus();
                  });
}

}  // namespace

void AddDescribeCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* describe =
      AddGroup(app, "describe", "Show one resource in detail: policy NAME, agent ID, action ID.");
  SetExamples(describe,
              {"fleetctl describe policy linux-servers", "fleetctl describe agent AGENT_ID"});
  AddDescribePolicy(*describe, globals, action);
  AddDescribeAgent(*describe, globals, action);
  AddDescribeAction(*describe, globals, action);
}

}  // namespace fleet::cli
