#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/duration.h"
#include "cli/flag_values.h"
#include "cli/live_progress.h"
#include "cli/resource_json.h"
#include "cli/resource_tables.h"
#include "cli/rollout_gate.h"
#include "cli/table_writer.h"

namespace fleet::cli {
namespace {

struct RolloutFlags {
  std::string policy;
  int64_t revision = 0;
  bool watch = false;
  std::string timeout;
  GateOptions gate;
};

void WriteStatus(const v1::RolloutStatus& status, OutputFormat format, std::ostream& out) {
  if (format != OutputFormat::kTable) {
    WriteStructured(RolloutStatusToJson(status), format, out);
    return;
  }
  TableWriter table({"POLICY", "REVISION", "LATEST", "AGENTS", "ACKED", "NACKED", "PENDING",
                     "PENDING-OFFLINE", "OFFLINE", "COMPLETE"});
  table.AddRow({status.policy(), absl::StrCat(status.revision()),
                absl::StrCat(status.latest_revision()), absl::StrCat(status.agents()),
                absl::StrCat(status.acked()), absl::StrCat(status.nacked()),
                absl::StrCat(status.pending()), absl::StrCat(status.pending_offline()),
                absl::StrCat(status.offline()), status.complete() ? "yes" : "no"});
  table.Write(out);
}

absl::Status TooManyNacked(const v1::RolloutStatus& status, const GateOptions& gate) {
  return absl::FailedPreconditionError(
      absl::StrCat(WithThousands(status.nacked()), " agents rejected revision ", status.revision(),
                   " of policy ", status.policy(), " (more than --max-nacked ", gate.max_nacked,
                   "); see fleetctl get agents --policy ", status.policy()));
}

// Follows the rollout until DecideRollout passes or fails it, reconnecting (with backoff) when
// the stream breaks, until --timeout.
absl::Status Watch(AdminClient& client, const RolloutFlags& flags,
                   const v1::GetRolloutStatusRequest& request, OutputFormat format,
                   std::ostream& out) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = flags.timeout.empty()
                                  ? absl::InfiniteFuture()
                                  : start + *ParseDuration(flags.timeout);  // checked by the flag
  std::optional<v1::RolloutStatus> last;
  GateDecision decision;
  ProgressLine progress;
  const absl::Status watched =
      WatchUntil(deadline, progress, [&](absl::Duration remaining, bool& answered) {
        return client.WatchRolloutStatus(request, remaining, [&](const v1::RolloutStatus& status) {
          answered = true;
          last = status;
          decision = DecideRollout(status, flags.gate);
          progress.Update(RolloutProgress(status, absl::Now() - start));
          return decision.verdict == GateVerdict::kWaiting;
        });
      });
  if (!watched.ok() && !absl::IsDeadlineExceeded(watched)) return watched;
  if (!last.has_value() || decision.verdict == GateVerdict::kWaiting) {
    return absl::DeadlineExceededError(absl::StrCat(
        "rollout of policy ", flags.policy, " not complete after ", flags.timeout,
        last ? absl::StrCat(" (", RolloutProgress(*last, absl::Now() - start), ")") : ""));
  }
  if (decision.no_agents) {
    progress.Note(absl::StrCat("no agent is assigned to policy ", last->policy(),
                               ": nothing to roll out to"));
  }
  if (decision.left_out > 0) {
    progress.Note(absl::StrCat("left out ", WithThousands(decision.left_out),
                               " offline agents that have not acked revision ", last->revision(),
                               " (--ignore-offline)"));
  }
  WriteStatus(*last, format, out);
  if (decision.verdict == GateVerdict::kFailed) return TooManyNacked(*last, flags.gate);
  return absl::OkStatus();
}

absl::Status ShowOnce(AdminClient& client, const RolloutFlags& flags,
                      const v1::GetRolloutStatusRequest& request, OutputFormat format,
                      std::ostream& out) {
  absl::StatusOr<v1::RolloutStatus> status = client.GetRolloutStatus(request);
  if (!status.ok()) return status.status();
  if (status->agents() == 0) {
    std::cerr << "no agent is assigned to policy " << status->policy() << "\n";
  }
  WriteStatus(*status, format, out);
  if (status->nacked() > flags.gate.max_nacked) return TooManyNacked(*status, flags.gate);
  return absl::OkStatus();
}

}  // namespace

void AddRolloutCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* rollout = AddGroup(app, "rollout", "Follow how a policy revision rolls out.");
  SetExamples(rollout, {"fleetctl rollout status linux-servers --watch"});
  auto flags = std::make_shared<RolloutFlags>();
  CLI::App* command = AddCommandWithArg(
      *rollout, "status",
      "Show how many of the agents assigned to a policy acked its revision, rejected it "
      "(nacked), or have yet to answer, online (pending) or offline (pending offline). Every "
      "assigned agent is exactly one of those; an agent that acked and went offline still "
      "counts as acked.\n"
      "Without --watch: exit 0, or 4 when more than --max-nacked agents rejected it.\n"
      "With --watch, a gate for scripts (apply && rollout status --watch): follow it with a "
      "live line on stderr (policy, revision, percentage acked, elapsed time) and exit\n"
      "  0  once every assigned agent acked (with no agent assigned: at once, saying so on "
      "stderr)\n"
      "  4  as soon as more than --max-nacked agents rejected it\n"
      "  5  when --timeout passes first\n"
      "If fleetd restarts or cannot be reached, the watch says so on stderr and reconnects, "
      "with backoff, until --timeout.",
      "POLICY", "The policy's name.", &flags->policy);
  SetExamples(command,
              {"fleetctl rollout status linux-servers",
               "# Wait for every agent, give up after 10 minutes or 3 rejections\nfleetctl rollout "
               "status linux-servers --watch --timeout 10m --max-nacked 3",
               "fleetctl rollout status linux-servers --revision 4 -o json"});
  command->add_option("--revision", flags->revision, "The revision. Default: the latest.")
      ->check(RevisionNumber());
  CLI::Option* watch = command->add_flag("-w,--watch", flags->watch, "Follow the rollout.");
  command->add_option("--timeout", flags->timeout, "With --watch: give up after this long.")
      ->check(DurationValidator())
      ->needs(watch);
  command
      ->add_option("--max-nacked", flags->gate.max_nacked,
                   "How many agents may reject the revision before the rollout counts as failed "
                   "(exit 4). Default: 0.")
      ->check(Count());
  command
      ->add_flag("--ignore-offline", flags->gate.ignore_offline,
                 "With --watch: do not wait for offline agents that have not answered (they get "
                 "the revision when they connect); says on stderr how many were left out.")
      ->needs(watch);
  OnRemoteCommand(command, globals, action,
                  [&globals, flags](AdminClient& client, std::ostream& out) {
                    v1::GetRolloutStatusRequest request;
                    request.set_policy(flags->policy);
                    request.set_revision(flags->revision);
                    if (flags->watch) return Watch(client, *flags, request, globals.output, out);
                    return ShowOnce(client, *flags, request, globals.output, out);
                  });
}

}  // namespace fleet::cli
