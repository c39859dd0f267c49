#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/commands.h"
#include "cli/duration.h"
#include "cli/flag_values.h"
#include "cli/resource_json.h"
#include "cli/resource_tables.h"
#include "cli/rollout_gate.h"
#include "cli/table_writer.h"
#include "common/backoff.h"

namespace fleet::cli {
namespace {

struct RolloutFlags {
  std::string policy;
  int64_t revision = 0;
  bool watch = false;
  std::string timeout;
  GateOptions gate;
};

// How the watch waits between attempts to reach fleetd again: quickly at first (a restart takes
// a second or two), at most 5 s apart.
constexpr BackoffOptions kReconnectBackoff = {
    .initial = absl::Milliseconds(250), .max = absl::Seconds(5), .multiplier = 2.0, .jitter = 0.2};

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

// The watch can go on after these: fleetd restarting or briefly unreachable.
bool Reconnectable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
      return true;
    default:
      return false;
  }
}

// The live progress line on stderr: rewritten in place on a terminal, else a line per update;
// notes (reconnecting, left out) on lines of their own.
class ProgressLine {
 public:
  ProgressLine() : tty_(isatty(STDERR_FILENO) == 1) {}
  ~ProgressLine() { EndLine(); }
  void Update(const std::string& line) {
    if (tty_) {
      std::cerr << "\r" << line << "\x1b[K" << std::flush;
      in_line_ = true;
    } else {
      std::cerr << line << std::endl;
    }
  }
  void Note(const std::string& text) {
    EndLine();
    std::cerr << text << std::endl;
  }

 private:
  void EndLine() {
    if (in_line_) std::cerr << "\n";
    in_line_ = false;
  }

  const bool tty_;
  bool in_line_ = false;
};

// Follows the rollout until DecideRollout passes or fails it, reconnecting (with backoff) when
// the stream breaks, until --timeout.
absl::Status Watch(AdminClient& client, const RolloutFlags& flags,
                   const v1::GetRolloutStatusRequest& request, OutputFormat format,
                   std::ostream& out) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = flags.timeout.empty()
                                  ? absl::InfiniteFuture()
                                  : start + *ParseDuration(flags.timeout);  // checked by the flag
  absl::BitGen rng;
  Backoff backoff(kReconnectBackoff, rng);
  std::optional<v1::RolloutStatus> last;
  GateDecision decision;
  ProgressLine progress;
  // Bounded by the deadline (or, without --timeout, deliberately unbounded: the operator asked
  // to wait for the rollout however long it takes).
  while (true) {
    const absl::Duration remaining = deadline - absl::Now();
    if (remaining <= absl::ZeroDuration()) break;
    const absl::Status watched =
        client.WatchRolloutStatus(request, remaining, [&](const v1::RolloutStatus& status) {
          backoff.Reset();  // fleetd answered: the next break starts the backoff again
          last = status;
          decision = DecideRollout(status, flags.gate);
          progress.Update(RolloutProgress(status, absl::Now() - start));
          return decision.verdict == GateVerdict::kWaiting;
        });
    if (watched.ok()) break;  // decided
    if (absl::IsDeadlineExceeded(watched)) break;
    if (!Reconnectable(watched)) return watched;
    const absl::Duration delay = std::min(backoff.Next(), deadline - absl::Now());
    if (delay <= absl::ZeroDuration()) break;
    progress.Note(absl::StrCat("watch interrupted: ", watched.message(), "; reconnecting in ",
                               absl::FormatDuration(absl::Trunc(delay, absl::Milliseconds(10)))));
    absl::SleepFor(delay);
  }
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
