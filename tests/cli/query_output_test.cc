// What `fleetctl query` prints: row lines, notes, the progress line, the summary, the exit code.
#include "cli/query_output.h"

#include <sstream>

#include "cli/exit_codes.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

v1::QueryRows Rows(const std::string& rows_json, const std::string& hostname = "web-1") {
  v1::QueryRows rows;
  rows.set_agent_id("3f9c2a7b1e04");
  rows.set_hostname(hostname);
  rows.set_rows_json(rows_json);
  return rows;
}

v1::QueryProgress Progress(int64_t answered, int64_t pending, int64_t offline, int64_t errors) {
  v1::QueryProgress progress;
  progress.set_targets(answered + pending + offline);
  progress.set_answered(answered);
  progress.set_pending(pending);
  progress.set_offline(offline);
  progress.set_errors(errors);
  return progress;
}

// One compact JSON line per row, with the agent's id and hostname, the row as the agent sent it
// (member order kept).
TEST(WriteQueryRowsTest, OneLinePerRow) {
  std::ostringstream out;
  EXPECT_EQ(
      WriteQueryRows(Rows(R"([{"pid": 1, "name": "init"}, {"pid": 2, "name": "kthreadd"}])"), out),
      2);
  EXPECT_EQ(out.str(),
            "{\"agentId\":\"3f9c2a7b1e04\",\"hostname\":\"web-1\",\"row\":{\"pid\":1,\"name\":"
            "\"init\"}}\n"
            "{\"agentId\":\"3f9c2a7b1e04\",\"hostname\":\"web-1\",\"row\":{\"pid\":2,\"name\":"
            "\"kthreadd\"}}\n");
}

// No rows (empty text or []), no lines; an unknown hostname is null.
TEST(WriteQueryRowsTest, EmptyAndUnknownHostname) {
  std::ostringstream out;
  EXPECT_EQ(WriteQueryRows(Rows(""), out), 0);
  EXPECT_EQ(WriteQueryRows(Rows("[]"), out), 0);
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(WriteQueryRows(Rows(R"([{"a": 1}])", ""), out), 1);
  EXPECT_EQ(out.str(), "{\"agentId\":\"3f9c2a7b1e04\",\"hostname\":null,\"row\":{\"a\":1}}\n");
}

// Rows that are not an array of objects are not dropped: one line carries the text as a string.
TEST(WriteQueryRowsTest, MalformedRowsKeptAsText) {
  std::ostringstream out;
  EXPECT_EQ(WriteQueryRows(Rows("[1, 2]"), out), 1);
  EXPECT_EQ(out.str(),
            "{\"agentId\":\"3f9c2a7b1e04\",\"hostname\":\"web-1\",\"row\":\"[1, 2]\"}\n");
}

// An agent's error and a truncation are noted, one line each, escaped for the terminal.
TEST(QueryRowsNotesTest, ErrorAndTruncation) {
  v1::QueryRows rows = Rows("[]");
  EXPECT_THAT(QueryRowsNotes(rows), IsEmpty());
  rows.set_error("no such table: procs\x1b[2J");
  rows.set_truncated(true);
  EXPECT_THAT(QueryRowsNotes(rows),
              ElementsAre("agent 3f9c2a7b1e04 (web-1): error: no such table: procs\\x1b[2J",
                          "agent 3f9c2a7b1e04 (web-1): rows truncated (by the agent, or by "
                          "fleetd's --query-max-rows-per-agent or --query-max-bytes)"));
}

// The progress line, with thousands separators; errors only when there are some.
TEST(QueryProgressLineTest, Format) {
  EXPECT_EQ(QueryProgressLine(Progress(812, 151, 37, 0)),
            "812/1,000 answered, 151 pending, 37 offline");
  EXPECT_EQ(QueryProgressLine(Progress(9, 0, 0, 1)), "9/9 answered, 0 pending, 0 offline, 1 error");
  EXPECT_EQ(QueryProgressLine(Progress(9, 0, 0, 3)),
            "9/9 answered, 0 pending, 0 offline, 3 errors");
}

// The summary names every agent that did not answer, pending and offline apart.
TEST(QuerySummaryLinesTest, NamesWhoDidNotAnswer) {
  v1::QuerySummary summary;
  summary.set_query_id("0123456789ab");
  *summary.mutable_progress() = Progress(1, 2, 1, 0);
  summary.set_timed_out(true);
  summary.add_pending_ids("aaaaaaaaaaaa");
  summary.add_pending_ids("bbbbbbbbbbbb");
  summary.add_offline_ids("cccccccccccc");
  EXPECT_THAT(QuerySummaryLines(summary),
              ElementsAre("query 0123456789ab: 1/4 answered, 2 pending, 1 offline; timed out",
                          "pending (2, asked, no answer in time): aaaaaaaaaaaa, bbbbbbbbbbbb",
                          "offline (1, not connected, not asked): cccccccccccc"));
  summary.clear_pending_ids();
  summary.clear_offline_ids();
  summary.set_timed_out(false);
  *summary.mutable_progress() = Progress(4, 0, 0, 0);
  EXPECT_THAT(QuerySummaryLines(summary),
              ElementsAre("query 0123456789ab: 4/4 answered, 0 pending, 0 offline"));
}

// 0 when every online target answered (offline ones were never asked), 5 at the deadline with
// some pending, 4 when some answered with an error, also after a timeout.
TEST(QueryOutcomeTest, ExitCodes) {
  v1::QuerySummary summary;
  summary.set_query_id("0123456789ab");
  *summary.mutable_progress() = Progress(10, 0, 5, 0);
  EXPECT_EQ(ExitCodeFor(QueryOutcome(summary, "30s")), kExitOk);
  *summary.mutable_progress() = Progress(8, 2, 0, 0);
  summary.set_timed_out(true);
  absl::Status late = QueryOutcome(summary, "30s");
  EXPECT_EQ(ExitCodeFor(late), kExitTimeout);
  EXPECT_EQ(late.message(),
            "2 online agents did not answer query 0123456789ab within 30s "
            "(named above)");
  *summary.mutable_progress() = Progress(8, 2, 0, 1);
  EXPECT_EQ(ExitCodeFor(QueryOutcome(summary, "30s")), kExitConflict);
  summary.set_timed_out(false);
  *summary.mutable_progress() = Progress(10, 0, 0, 3);
  absl::Status errors = QueryOutcome(summary, "30s");
  EXPECT_EQ(ExitCodeFor(errors), kExitConflict);
  EXPECT_EQ(errors.message(),
            "3 of 10 agents that answered query 0123456789ab reported an error (shown above)");
}

// A query fleetd ended while shutting down says so, names who had not answered, and exits 1
// (fleetd went away), unless every online target had answered.
TEST(QueryOutcomeTest, InterruptedByAShutdown) {
  v1::QuerySummary summary;
  summary.set_query_id("0123456789ab");
  *summary.mutable_progress() = Progress(3, 1, 0, 0);
  summary.set_interrupted(true);
  summary.add_pending_ids("aaaaaaaaaaaa");
  EXPECT_THAT(QuerySummaryLines(summary),
              ElementsAre("query 0123456789ab: 3/4 answered, 1 pending, 0 offline; interrupted: "
                          "fleetd shut down",
                          "pending (1, asked, no answer before fleetd shut down): aaaaaaaaaaaa"));
  absl::Status cut = QueryOutcome(summary, "30s");
  EXPECT_EQ(ExitCodeFor(cut), kExitError);
  EXPECT_EQ(cut.message(),
            "fleetd shut down before query 0123456789ab ended: 1 online agents had not answered "
            "(named above); run it again once fleetd serves");
  *summary.mutable_progress() = Progress(4, 0, 0, 0);
  summary.clear_pending_ids();
  EXPECT_EQ(ExitCodeFor(QueryOutcome(summary, "30s")), kExitOk);
}

}  // namespace
}  // namespace fleet::cli
