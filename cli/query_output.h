// What `fleetctl query` prints, apart from the command, so that it can be tested on values
// alone: one JSON object per result row on stdout (JSON Lines), a progress line and notes for
// stderr, a summary naming the targets that did not answer, and the exit decision.
//
// A row line (docs/actions.md), compact, one per line, in the order the results came:
//   {"agentId": "3f9c2a7b1e04", "hostname": "web-1", "row": {"pid": 1, "name": "init"}}
// hostname is null when fleetd has none for the agent; `row` is the agent's row object as sent.
#ifndef FLEETD_CLI_QUERY_OUTPUT_H_
#define FLEETD_CLI_QUERY_OUTPUT_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "fleet/v1/admin.pb.h"

namespace fleet::cli {

// Writes one row line per row of `rows.rows_json` on `out` and returns how many. A rows_json that
// is not a JSON array of objects (fleetd checks it, so only a broken server sends one) is one
// line whose "row" is the text as a string. Ill-formed UTF-8 is written as U+FFFD.
int64_t WriteQueryRows(const v1::QueryRows& rows, std::ostream& out);

// The notes about one agent's results for stderr, each one line through EscapeForTerminal
// (terminal_text.h): "agent ID (HOSTNAME): error: ERROR" when it answered with an error, and
// "agent ID (HOSTNAME): rows truncated (...)" when rows were left out. None otherwise.
std::vector<std::string> QueryRowsNotes(const v1::QueryRows& rows);

// "812/1,000 answered, 151 pending, 37 offline", then ", 3 errors" when some answered with an
// error.
std::string QueryProgressLine(const v1::QueryProgress& progress);

// The summary for stderr, one line each: "query ID: " and the progress line, with "; timed out"
// when it did ("; interrupted: fleetd shut down" when fleetd ended it shutting down); then
// "pending (N, asked, no answer in time): ID, ID, ..." and "offline (N, not connected, not
// asked): ID, ..." when there are any, every id named.
std::vector<std::string> QuerySummaryLines(const v1::QuerySummary& summary);

// How the query ends (exit_codes.h): FAILED_PRECONDITION (exit 4) when some target answered
// with an error (also after a timeout: a known failure outranks an unfinished wait),
// UNAVAILABLE (exit 1) when fleetd shut down with online targets still pending,
// DEADLINE_EXCEEDED (exit 5) when the deadline came with online targets still pending, else OK:
// every online target answered (offline targets, never asked, do not count against it).
absl::Status QueryOutcome(const v1::QuerySummary& summary, const std::string& timeout);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_QUERY_OUTPUT_H_
