#include <unistd.h>

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/duration.h"
#include "cli/resource_json.h"
#include "cli/resource_tables.h"
#include "cli/table_writer.h"

namespace fleet::cli {
namespace {

struct RolloutFlags {
  std::string policy;
  int64_t revision = 0;
  bool watch = false;
  std::string timeout;
};

void WriteStatus(const v1::RolloutStatus& status, OutputFormat format, std::ostream& out) {
  if (format != OutputFormat::kTable) {
    WriteStructured(RolloutStatusToJson(status), format, out);
    return;
  }
  TableWriter table({"POLICY", "REVISION", "LATEST", "AGENTS", "ACKED", "NACKED", "PENDING",
                     "OFFLINE", "COMPLETE"});
  table.AddRow({status.policy(), absl::StrCat(status.revision()),
                absl::StrCat(status.latest_revision()), absl::StrCat(status.agents()),
                absl::StrCat(status.acked()), absl::StrCat(status.nacked()),
                absl::StrCat(status.pending()), absl::StrCat(status.offline()),
                status.complete() ? "yes" : "no"});
  table.Write(out);
}

// OK when the rollout cannot fail any more (complete, or no agent pending and none nacked);
// FAILED_PRECONDITION (exit 4) when agents nacked.
absl::Status Outcome(const v1::RolloutStatus& status) {
  if (status.nacked() == 0) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      WithThousands(status.nacked()), " agents rejected revision ", status.revision(),
      " of policy ", status.policy(), "; see fleetctl get agents --policy ", status.policy()));
}

// Whether a watch can stop: every online agent acked, or some nacked and none is pending.
bool Settled(const v1::RolloutStatus& status) {
  return status.complete() || (status.nacked() > 0 && status.pending() == 0);
}

// The live progress line on stderr: rewritten in place on a terminal, else a line per update.
class ProgressLine {
 public:
  ProgressLine() : tty_(isatty(STDERR_FILENO) == 1) {}
  ~ProgressLine() {
    if (tty_ && written_) std::cerr << "\n";
  }
  void Update(const v1::RolloutStatus& status) {
    written_ = true;
    if (tty_) {
      std::cerr << "\r" << RolloutProgress(status) << "\x1b[K" << std::flush;
    } else {
      std::cerr << RolloutProgress(status) << std::endl;
    }
  }

 private:
  const bool tty_;
  bool written_ = false;
};

absl::Status Watch(AdminClient& client, const RolloutFlags& flags,
                   const v1::GetRolloutStatusRequest& request, OutputFormat format,
                   std::ostream& out) {
  absl::Duration timeout = absl::InfiniteDuration();
  if (!flags.timeout.empty()) timeout = *ParseDuration(flags.timeout);  // checked by the flag
  std::optional<v1::RolloutStatus> last;
  absl::Status watched;
  {
    ProgressLine progress;
    watched = client.WatchRolloutStatus(request, timeout, [&](const v1::RolloutStatus& status) {
      progress.Update(status);
      last = status;
      return !Settled(status);
    });
  }
  if (watched.code() == absl::StatusCode::kDeadlineExceeded) {
    return absl::DeadlineExceededError(
        absl::StrCat("rollout of policy ", flags.policy, " not settled after ", flags.timeout,
                     last ? absl::StrCat(" (", RolloutProgress(*last), ")") : ""));
  }
  if (!watched.ok()) return watched;
  WriteStatus(*last, format, out);
  return Outcome(*last);
}

}  // namespace

void AddRolloutCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* rollout = AddGroup(app, "rollout", "Follow how a policy revision rolls out.");
  auto flags = std::make_shared<RolloutFlags>();
  CLI::App* command = AddCommandWithArg(
      *rollout, "status",
      "Show how many of a policy's agents acked, rejected (nacked) or have yet to answer a "
      "revision. Exit 0 when none rejected it (complete or not yet), 4 when some did. With "
      "--watch, follow it with a live line on stderr until every online agent acked (exit 0) "
      "or, once none is pending, some rejected it (exit 4); exit 5 when --timeout passes first.",
      "POLICY", "The policy's name.", &flags->policy);
  command->add_option("--revision", flags->revision, "The revision. Default: the latest.")
      ->check(CLI::PositiveNumber);
  CLI::Option* watch = command->add_flag("-w,--watch", flags->watch, "Follow the rollout.");
  command->add_option("--timeout", flags->timeout, "With --watch: give up after this long.")
      ->check(DurationValidator())
      ->needs(watch);
  OnRemoteCommand(command, globals, action,
                  [&globals, flags](AdminClient& client, std::ostream& out) {
                    v1::GetRolloutStatusRequest request;
                    request.set_policy(flags->policy);
                    request.set_revision(flags->revision);
                    if (flags->watch) return Watch(client, *flags, request, globals.output, out);
                    absl::StatusOr<v1::RolloutStatus> status = client.GetRolloutStatus(request);
                    if (!status.ok()) return status.status();
                    WriteStatus(*status, globals.output, out);
                    return Outcome(*status);
                  });
}

}  // namespace fleet::cli
