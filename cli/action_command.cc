#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli/action_arguments.h"
#include "cli/action_outcome.h"
#include "cli/commands.h"
#include "cli/duration.h"
#include "cli/live_progress.h"
#include "cli/resource_json.h"
#include "cli/resource_tables.h"
#include "cli/target_flags.h"

namespace fleet::cli {
namespace {

// How often the live line of a watch is printed when stderr is not a terminal (a log file).
constexpr absl::Duration kLogLineInterval = absl::Seconds(1);

struct WatchFlags {
  bool watch = false;
  std::string timeout;  // empty: wait however long it takes
};

// Adds -w/--watch (described by `watch_help`) and --timeout, which needs it.
void AddWatchFlags(CLI::App* command, WatchFlags* flags, const std::string& watch_help) {
  CLI::Option* watch = command->add_flag("-w,--watch", flags->watch, watch_help);
  command
      ->add_option("--timeout", flags->timeout,
                   "With --watch: give up after this long (exit 5, or 4 when some target did not "
                   "succeed already). Default: wait until every target finished.")
      ->check(DurationValidator())
      ->needs(watch);
}

// Prints `action` as a one-row table (-o table, wide, name) or as the Action shape.
void WriteAction(const GlobalOptions& globals, const v1::Action& action, std::ostream& out) {
  if (globals.output != OutputFormat::kTable) {
    WriteStructured(ActionToJson(action), globals.output, out);
    return;
  }
  PrintRows(ActionTable(), std::vector<v1::Action>{action},
            TableOptions{.style = globals.table_style}, absl::Now(), out);
}

// Follows action `id` with WatchAction until every target is final or --timeout passes,
// reconnecting when fleetd restarts; prints the last state and returns ActionOutcome.
absl::Status WatchToEnd(AdminClient& client, const GlobalOptions& globals, const std::string& id,
                        const WatchFlags& flags, std::ostream& out) {
  const absl::Time start = absl::Now();
  const absl::Time deadline = flags.timeout.empty()
                                  ? absl::InfiniteFuture()
                                  : start + *ParseDuration(flags.timeout);  // checked by the flag
  v1::GetActionRequest request;
  request.set_id(id);
  std::optional<v1::Action> last;
  ProgressLine progress(kLogLineInterval);
  const absl::Status watched =
      WatchUntil(deadline, progress, [&](absl::Duration remaining, bool& answered) {
        return client.WatchAction(request, remaining, [&](const v1::Action& action) {
          answered = true;
          last = action;
          progress.Update(ActionProgress(action, absl::Now() - start));
          return DecideAction(action) == ActionVerdict::kWaiting;
        });
      });
  const bool timed_out = absl::IsDeadlineExceeded(watched);
  if (!watched.ok() && !timed_out) return watched;
  progress.Finish();
  if (!last.has_value()) {
    return absl::DeadlineExceededError(
        absl::StrCat("fleetd sent no status of action ", id, " within ", flags.timeout));
  }
  WriteAction(globals, *last, out);
  return ActionOutcome(*last, timed_out, flags.timeout);
}

void AddActionCreate(CLI::App& parent, const GlobalOptions& globals, CommandAction* action) {
  struct Flags {
    std::string type;
    TargetFlags targets;
    std::vector<std::string> args;
    std::string args_json;
    std::string expires;
    std::string rollout;
    WatchFlags watch;
    std::string arguments;  // built from args and args_json once parsed
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = AddCommandWithArg(
      parent, "create",
      "Create an action for agents: fleetd resolves the targets now, keeps the action and its "
      "results in its store, sends it to each connected target at once (spread over --rollout) "
      "and to each offline one when it connects, until it expires. Prints action/ID (-o json: "
      "the Action). With --watch, follows it as `action status --watch` does.",
      "TYPE",
      "upgrade (--arg version=V [--arg url=U] [--arg sha256=H]), restart, unenroll, diagnostics "
      "or custom (--arg name=N, typed arguments under \"args\" with --args-json).",
      &flags->type);
  SetExamples(
      command,
      {"fleetctl action create restart --agent 3f9c2a7b1e04",
       "# Upgrade production, spread over 10 minutes, and wait for it\nfleetctl action create "
       "upgrade -l env=prod --arg version=1.4.2 --rollout 10m --watch --timeout 1h",
       "fleetctl action create custom --policy linux-servers --arg name=rotate-logs --args-json "
       "'{\"args\": {\"keep\": 3}}' --expires 24h"});
  AddTargetFlags(command, &flags->targets);
  command
      ->add_option("--arg", flags->args,
                   "An argument KEY=VALUE, its value a string. Repeatable. Merged with "
                   "--args-json; a key both set is refused.")
      ->type_name("KEY=VALUE")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command
      ->add_option("--args-json", flags->args_json,
                   "Arguments as a JSON object, for values that are not strings. Example: "
                   "--args-json '{\"args\": {\"keep\": 3}}'")
      ->type_name("JSON");
  command
      ->add_option("--expires", flags->expires,
                   "Stop sending it this long from now; targets not finished by then count as "
                   "expired. Default: 14 days (336h).")
      ->check(DurationValidator());
  command
      ->add_option("--rollout", flags->rollout,
                   "Spread the targets' start times evenly over this span (the first at once). "
                   "Shorter than --expires. Default: all at once.")
      ->check(DurationValidator());
  AddWatchFlags(command, &flags->watch,
                "Then follow it: a live line on stderr, exit 0 once every target succeeded, 4 "
                "when some did not (failed, rejected, expired, cancelled), 5 at --timeout.");
  command->parse_complete_callback([flags] {
    CheckTargetFlags(flags->targets, "the action");
    absl::StatusOr<std::string> arguments = BuildActionArguments(flags->args, flags->args_json);
    if (!arguments.ok()) throw CLI::ValidationError(std::string(arguments.status().message()));
    flags->arguments = *std::move(arguments);
    if (!flags->rollout.empty() && !flags->expires.empty() &&
        *ParseDuration(flags->rollout) >= *ParseDuration(flags->expires)) {
      throw CLI::ValidationError(absl::StrCat("--rollout ", flags->rollout,
                                              " is not shorter than --expires ", flags->expires,
                                              ": the last targets would start after it expired"));
    }
  });
  OnRemoteCommand(command, globals, action,
                  [&globals, flags](AdminClient& client, std::ostream& out) {
                    v1::CreateActionRequest request;
                    request.set_type(flags->type);
                    request.set_arguments_json(flags->arguments);
                    *request.mutable_targets() = TargetsOf(flags->targets);
                    if (!flags->expires.empty()) {
                      const absl::Time expires = absl::Now() + *ParseDuration(flags->expires);
                      request.mutable_expires_at()->set_seconds(absl::ToUnixSeconds(expires));
                    }
                    if (!flags->rollout.empty()) {
                      *request.mutable_rollout_duration() = ToProto(*ParseDuration(flags->rollout));
                    }
                    absl::StatusOr<v1::Action> created = client.CreateAction(request);
                    if (!created.ok()) return created.status();
                    if (globals.output == OutputFormat::kTable) {
                      out << "action/" << created->id()
                          << (globals.table_style == TableStyle::kName ? "" : " created") << "\n"
                          << std::flush;
                      std::cerr << WithThousands(created->counts().targets()) << " targets\n";
                    } else if (!flags->watch.watch) {
                      WriteStructured(ActionToJson(*created), globals.output, out);
                    }
                    if (!flags->watch.watch) return absl::OkStatus();
                    return WatchToEnd(client, globals, created->id(), flags->watch, out);
                  });
}

void AddStatus(CLI::App& parent, const GlobalOptions& globals, CommandAction* action) {
  struct Flags {
    std::string id;
    WatchFlags watch;
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = AddCommandWithArg(
      parent, "status",
      "Show how many of an action's targets are in each state: pending (not sent yet: offline, "
      "or its start time not reached), delivered, running, succeeded, failed, rejected, expired, "
      "cancelled. Every target is exactly one of them.\n"
      "Without --watch: exit 0, or 4 when some target failed, was rejected, expired or was "
      "cancelled.\n"
      "With --watch, a gate for scripts: follow it with a live line on stderr and exit\n"
      "  0  once every target succeeded\n"
      "  4  once every target is final and some did not succeed (failed, rejected, expired, "
      "cancelled), or at --timeout when some already did not\n"
      "  5  when --timeout passes first with targets unfinished\n"
      "If fleetd restarts or cannot be reached, the watch says so on stderr and reconnects, "
      "with backoff, until --timeout.",
      "ID", "The action's id (see fleetctl get actions).", &flags->id);
  SetExamples(command,
              {"fleetctl action status 3f9c2a7b1e04",
               "# Wait for every target, at most 30 minutes\nfleetctl action status 3f9c2a7b1e04 "
               "--watch --timeout 30m",
               "fleetctl action status 3f9c2a7b1e04 -o json"});
  AddWatchFlags(command, &flags->watch, "Follow the action until every target finished.");
  OnRemoteCommand(command, globals, action,
                  [&globals, flags](AdminClient& client, std::ostream& out) {
                    if (flags->watch.watch) {
                      return WatchToEnd(client, globals, flags->id, flags->watch, out);
                    }
                    v1::GetActionRequest request;
                    request.set_id(flags->id);
                    absl::StatusOr<v1::Action> got = client.GetAction(request);
                    if (!got.ok()) return got.status();
                    WriteAction(globals, *got, out);
                    return ActionOutcome(*got, /*timed_out=*/false, "");
                  });
}

}  // namespace

void AddActionCommands(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* group = AddGroup(app, "action", "Run actions on agents: create, status, cancel.");
  SetExamples(group, {"fleetctl action create restart -l env=staging --watch",
                      "fleetctl action status 3f9c2a7b1e04 --watch"});
  AddActionCreate(*group, globals, action);
  AddStatus(*group, globals, action);
  AddIdCommand(*group, "cancel",
               "Cancel an action: targets it was not sent to yet never get it (cancelled); those "
               "that have it are asked to stop, and answer cancelled, or their final state when "
               "they cannot stop any more. Its results so far are kept.",
               globals, action, "Action", "cancelled",
               [](AdminClient& client, const std::string& id) {
                 v1::CancelActionRequest request;
                 request.set_id(id);
                 return client.CancelAction(request).status();
               });
  SetExamples(group->get_subcommand("cancel"),
              {"fleetctl action cancel 3f9c2a7b1e04",
               "# Cancel, then see what had already happened\nfleetctl action cancel "
               "3f9c2a7b1e04\nfleetctl describe action 3f9c2a7b1e04"});
}

}  // namespace fleet::cli
