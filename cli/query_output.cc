#include "cli/query_output.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/resource_tables.h"
#include "cli/terminal_text.h"
#include "nlohmann/json.hpp"

namespace fleet::cli {
namespace {

void WriteLine(const v1::QueryRows& rows, nlohmann::ordered_json row, std::ostream& out) {
  nlohmann::ordered_json line = {
      {"agentId", rows.agent_id()},
      {"hostname", rows.hostname().empty() ? nlohmann::ordered_json(nullptr)
                                           : nlohmann::ordered_json(rows.hostname())},
      {"row", std::move(row)}};
  out << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
}

std::string AgentName(const v1::QueryRows& rows) {
  return rows.hostname().empty()
             ? absl::StrCat("agent ", rows.agent_id())
             : absl::StrCat("agent ", rows.agent_id(), " (", rows.hostname(), ")");
}

std::string IdList(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  return absl::StrJoin(ids, ", ");
}

}  // namespace

int64_t WriteQueryRows(const v1::QueryRows& rows, std::ostream& out) {
  if (rows.rows_json().empty()) return 0;
  nlohmann::ordered_json parsed =
      nlohmann::ordered_json::parse(rows.rows_json(), nullptr, /*allow_exceptions=*/false);
  bool objects = parsed.is_array();
  for (const auto& row : parsed) objects = objects && row.is_object();
  if (!objects) {
    WriteLine(rows, rows.rows_json(), out);
    return 1;
  }
  for (nlohmann::ordered_json& row : parsed) WriteLine(rows, std::move(row), out);
  return static_cast<int64_t>(parsed.size());
}

std::vector<std::string> QueryRowsNotes(const v1::QueryRows& rows) {
  std::vector<std::string> notes;
  if (!rows.error().empty()) {
    notes.push_back(EscapeForTerminal(absl::StrCat(AgentName(rows), ": error: ", rows.error())));
  }
  if (rows.truncated()) {
    notes.push_back(EscapeForTerminal(
        absl::StrCat(AgentName(rows),
                     ": rows truncated (by the agent, or by fleetd's --query-max-rows-per-agent "
                     "or --query-max-bytes)")));
  }
  return notes;
}

std::string QueryProgressLine(const v1::QueryProgress& progress) {
  std::string line =
      absl::StrCat(WithThousands(progress.answered()), "/", WithThousands(progress.targets()),
                   " answered, ", WithThousands(progress.pending()), " pending, ",
                   WithThousands(progress.offline()), " offline");
  if (progress.errors() > 0) {
    absl::StrAppend(&line, ", ", WithThousands(progress.errors()),
                    progress.errors() == 1 ? " error" : " errors");
  }
  return line;
}

std::vector<std::string> QuerySummaryLines(const v1::QuerySummary& summary) {
  const char* const ending = summary.interrupted() ? "; interrupted: fleetd shut down"
                             : summary.timed_out() ? "; timed out"
                                                   : "";
  std::vector<std::string> lines = {absl::StrCat("query ", summary.query_id(), ": ",
                                                 QueryProgressLine(summary.progress()), ending)};
  if (!summary.pending_ids().empty()) {
    lines.push_back(absl::StrCat("pending (", WithThousands(summary.pending_ids_size()),
                                 summary.interrupted()
                                     ? ", asked, no answer before fleetd shut down"
                                     : ", asked, no answer in time",
                                 "): ", IdList(summary.pending_ids())));
  }
  if (!summary.offline_ids().empty()) {
    lines.push_back(absl::StrCat("offline (", WithThousands(summary.offline_ids_size()),
                                 ", not connected, not asked): ", IdList(summary.offline_ids())));
  }
  return lines;
}

absl::Status QueryOutcome(const v1::QuerySummary& summary, const std::string& timeout) {
  const v1::QueryProgress& progress = summary.progress();
  if (progress.errors() > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        WithThousands(progress.errors()), " of ", WithThousands(progress.answered()),
        " agents that answered query ", summary.query_id(), " reported an error (shown above)"));
  }
  if (summary.interrupted() && progress.pending() > 0) {
    return absl::UnavailableError(absl::StrCat(
        "fleetd shut down before query ", summary.query_id(),
        " ended: ", WithThousands(progress.pending()),
        " online agents had not answered (named above); run it again once fleetd serves"));
  }
  if (summary.timed_out() && progress.pending() > 0) {
    return absl::DeadlineExceededError(
        absl::StrCat(WithThousands(progress.pending()), " online agents did not answer query ",
                     summary.query_id(), " within ", timeout, " (named above)"));
  }
  return absl::OkStatus();
}

}  // namespace fleet::cli
