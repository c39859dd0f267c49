#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/duration.h"
#include "cli/live_progress.h"
#include "cli/query_output.h"
#include "cli/target_flags.h"

namespace fleet::cli {
namespace {

// RunQuery's limits (admin.proto RunQueryRequest.timeout).
constexpr absl::Duration kDefaultQueryTimeout = absl::Seconds(30);
constexpr absl::Duration kMaxQueryTimeout = absl::Minutes(10);
// fleetd ends the query at its deadline and then sends the summary: the call may take this much
// longer before fleetctl gives up on it.
constexpr absl::Duration kSummaryGrace = absl::Seconds(15);
// How often the progress line is printed when stderr is not a terminal.
constexpr absl::Duration kLogLineInterval = absl::Seconds(1);

}  // namespace

void AddQueryCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  struct Flags {
    std::string query;
    TargetFlags targets;
    std::string timeout = "30s";
  };
  auto flags = std::make_shared<Flags>();
  CLI::App* command = AddCommandWithArg(
      app, "query",
      "Run a live query on the targets connected now and stream their results: one JSON object "
      "per row on stdout, {\"agentId\", \"hostname\", \"row\"}; a live line on stderr (answered, "
      "pending, offline); each agent's error on stderr; at the end a summary naming the agents "
      "that did not answer (pending: asked, no answer in time; offline: not connected, never "
      "asked). It ends when every online target answered, or at --timeout.\n"
      "Exit 0 when every online target answered, 4 when some answered with an error, 5 when "
      "--timeout came with some still pending, 1 when fleetd shut down (a restart) before they "
      "answered: the summary then names them, and the query can be run again.",
      "TEXT", "The query, in the agents' language (e.g. osquery SQL); quote it.", &flags->query);
  SetExamples(command,
              {"fleetctl query 'SELECT name, version FROM os_version' -l env=prod",
               "# Only the rows, into jq\nfleetctl query 'SELECT pid, name FROM processes' "
               "--agent 3f9c2a7b1e04 2>/dev/null | jq .row",
               "fleetctl query 'SELECT * FROM uptime' --policy linux-servers --timeout 2m"});
  AddTargetFlags(command, &flags->targets);
  command
      ->add_option("--timeout", flags->timeout,
                   "How long to wait for answers, at most 10m. Default: 30s.")
      ->type_name("DURATION")
      ->check(CLI::Validator(
          [](const std::string& value) -> std::string {
            absl::StatusOr<absl::Duration> parsed = ParseDuration(value);
            if (!parsed.ok()) return std::string(parsed.status().message());
            if (*parsed > kMaxQueryTimeout) {
              return absl::StrCat("\"", value, "\": at most 10m (fleetd's limit for a query)");
            }
            return "";
          },
          ""));
  command->parse_complete_callback([flags] { CheckTargetFlags(flags->targets, "the query"); });
  OnRemoteCommand(
      command, globals, action, [&globals, flags](AdminClient& client, std::ostream& out) {
        if (globals.output == OutputFormat::kYaml) {
          return UsageError("query prints JSON lines, one object per row; -o yaml does not apply");
        }
        const absl::Duration timeout =
            flags->timeout.empty() ? kDefaultQueryTimeout : *ParseDuration(flags->timeout);
        v1::RunQueryRequest request;
        request.set_query(flags->query);
        *request.mutable_targets() = TargetsOf(flags->targets);
        *request.mutable_timeout() = ToProto(timeout);
        std::optional<v1::QuerySummary> summary;
        ProgressLine progress(kLogLineInterval);
        const absl::Status ran =
            client.RunQuery(request, timeout + kSummaryGrace, [&](const v1::QueryEvent& event) {
              switch (event.event_case()) {
                case v1::QueryEvent::kStarted:
                  progress.Update(QueryProgressLine(event.started()));
                  break;
                case v1::QueryEvent::kProgress:
                  progress.Update(QueryProgressLine(event.progress()));
                  break;
                case v1::QueryEvent::kResults:
                  for (const v1::QueryRows& rows : event.results().rows()) {
                    WriteQueryRows(rows, out);
                    for (const std::string& note : QueryRowsNotes(rows)) progress.Note(note);
                  }
                  out.flush();
                  break;
                case v1::QueryEvent::kSummary:
                  summary = event.summary();
                  progress.Update(QueryProgressLine(event.summary().progress()));
                  break;
                case v1::QueryEvent::EVENT_NOT_SET:
                  break;
              }
              return true;
            });
        progress.Finish();
        if (!ran.ok()) return ran;
        if (!summary.has_value()) {
          return absl::UnavailableError("fleetd ended the query without its summary; try again");
        }
        for (const std::string& line : QuerySummaryLines(*summary)) std::cerr << line << "\n";
        return QueryOutcome(*summary, flags->timeout);
      });
}

}  // namespace fleet::cli
