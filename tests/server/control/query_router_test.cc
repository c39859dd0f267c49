// QueryRouter with a real mailbox and agent state: who is asked, when a query ends, what its
// caller reads, and the limits on what it holds.
#include "server/control/query_router.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/control/query_rows.h"
#include "storage/memory_store.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

v1::QueryResult Result(const std::string& query_id, const std::string& rows_json, bool last = true,
                       const std::string& error = "") {
  v1::QueryResult result;
  result.set_id(query_id);
  result.set_rows_json(rows_json);
  result.set_last(last);
  result.set_error(error);
  return result;
}

// A JSON array of `n` small row objects.
std::string Rows(int n) {
  std::string json = "[";
  for (int i = 0; i < n; ++i) absl::StrAppend(&json, i == 0 ? "" : ",", "{\"n\":", i, "}");
  return json + "]";
}

class QueryRouterTest : public ::testing::Test {
 protected:
  ~QueryRouterTest() override { mailbox_.Stop(); }

  void Online(const std::string& agent_id) {
    state_.Update(agent_id,
                  [](record::AgentStatusRecord& s) { s.set_status(v1::AGENT_STATUS_ONLINE); });
  }
  void Offline(const std::string& agent_id) {
    state_.Update(agent_id,
                  [](record::AgentStatusRecord& s) { s.set_status(v1::AGENT_STATUS_OFFLINE); });
  }
  QueryRequest Request(const std::vector<std::string>& agent_ids,
                       absl::Duration timeout = absl::Seconds(30)) {
    QueryRequest request{.text = "select 1", .deadline = clock_.Now() + timeout};
    for (const std::string& id : agent_ids) request.targets.push_back({id, "host-" + id});
    return request;
  }
  // The query mail waiting for `agent_id`, nullopt when there is none.
  std::optional<v1::AgentQuery> MailFor(const std::string& agent_id) {
    std::optional<AgentMailbox::Posted> posted = mailbox_.Next(agent_id, 0);
    if (!posted.has_value()) return std::nullopt;
    EXPECT_EQ(posted->mail->kind, Mail::Kind::kQuery);
    v1::ServerMessage message;
    EXPECT_TRUE(message.ParseFromString(*posted->mail->bytes));
    return message.query();
  }
  // Everything the caller can take now, without waiting.
  std::vector<v1::QueryRows> TakeAll(RunningQuery& query, bool* ended = nullptr) {
    std::vector<v1::QueryRows> rows;
    while (true) {
      RunningQuery::Taken taken = query.Take(absl::ZeroDuration());
      for (v1::QueryRows& r : taken.rows) rows.push_back(std::move(r));
      if (taken.rows.empty() || taken.ended) {
        if (ended != nullptr) *ended = taken.ended;
        return rows;
      }
    }
  }
  QueryRouter Router(QueryLimits limits = {}) {
    return QueryRouter(mailbox_, state_, clock_, limits);
  }

  ManualClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  std::unique_ptr<storage::Store> store_ = storage::NewMemoryStore();
  AgentStateTracker state_{*store_, clock_, {.flush_interval = absl::Hours(1)}};
  AgentMailbox mailbox_{clock_};
};

// Rows are counted by scanning, and cut to whole rows of the agent's own text.
TEST(CountRowsTest, CountsAndCutsWholeRows) {
  EXPECT_EQ(CountRows("", 10).rows, 0);
  EXPECT_EQ(CountRows(" [ ] ", 10).rows, 0);
  CountedRows three = CountRows(R"([{"a":"x,]}"}, {"b":[1,2]} ,{"c":{"d":"\"]"}}])", 10);
  EXPECT_EQ(three.rows, 3);
  EXPECT_FALSE(three.cut);
  CountedRows cut = CountRows(R"([{"a":"x,]}"}, {"b":[1,2]} ,{"c":{"d":"\"]"}}])", 2);
  EXPECT_EQ(cut.rows, 3);
  EXPECT_TRUE(cut.cut);
  EXPECT_EQ(cut.kept, R"([{"a":"x,]}"}, {"b":[1,2]}])");
  EXPECT_EQ(CountRows(Rows(5), 0).kept, "[]");
}

// Only targets online at the start are asked (one shared mail, expiring at the deadline); the
// offline ones are counted and named, and the query ends once every asked one answered.
TEST_F(QueryRouterTest, AsksOnlineTargetsAndEndsWhenTheyAnswered) {
  QueryRouter router = Router();
  Online("a1");
  Online("a3");
  Offline("a2");  // known but gone; a4 was never seen
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunningQuery> query,
                       router.Start(Request({"a4", "a3", "a2", "a1"})));
  EXPECT_EQ(query->id().size(), 12u);
  std::optional<v1::AgentQuery> asked = MailFor("a1");
  ASSERT_TRUE(asked.has_value());
  EXPECT_EQ(asked->id(), query->id());
  EXPECT_EQ(asked->query(), "select 1");
  ASSERT_TRUE(MailFor("a3").has_value());
  EXPECT_FALSE(MailFor("a2").has_value());
  EXPECT_FALSE(MailFor("a4").has_value());

  v1::QueryProgress progress = query->Progress();
  EXPECT_EQ(progress.targets(), 4);
  EXPECT_EQ(progress.pending(), 2);
  EXPECT_EQ(progress.offline(), 2);
  EXPECT_EQ(progress.answered(), 0);

  router.QueryResultReported("a1", Result(query->id(), Rows(2), /*last=*/false));
  router.QueryResultReported("a1", Result(query->id(), Rows(1)));
  bool ended = false;
  std::vector<v1::QueryRows> rows = TakeAll(*query, &ended);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].agent_id(), "a1");
  EXPECT_EQ(rows[0].hostname(), "host-a1");
  EXPECT_EQ(rows[0].rows_json(), Rows(2));
  EXPECT_FALSE(rows[0].last());
  EXPECT_TRUE(rows[1].last());
  EXPECT_FALSE(ended);

  router.QueryResultReported("a3", Result(query->id(), "", true, "no such table"));
  rows = TakeAll(*query, &ended);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].error(), "no such table");
  EXPECT_EQ(rows[0].rows_json(), "[]");
  EXPECT_TRUE(ended);
  v1::QuerySummary summary = query->Summary();
  EXPECT_EQ(summary.query_id(), query->id());
  EXPECT_FALSE(summary.timed_out());
  EXPECT_EQ(summary.progress().answered(), 2);
  EXPECT_EQ(summary.progress().errors(), 1);
  EXPECT_EQ(summary.progress().pending(), 0);
  EXPECT_THAT(summary.pending_ids(), IsEmpty());
  EXPECT_THAT(summary.offline_ids(), ElementsAre("a2", "a4"));
}

// A query none of whose targets is online has ended at once, naming them all.
TEST_F(QueryRouterTest, NoTargetOnlineEndsAtOnce) {
  QueryRouter router = Router();
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunningQuery> query, router.Start(Request({"b", "a"})));
  RunningQuery::Taken taken = query->Take(absl::Seconds(10));
  EXPECT_TRUE(taken.ended);
  EXPECT_THAT(query->Summary().offline_ids(), ElementsAre("a", "b"));
  EXPECT_FALSE(query->Summary().timed_out());
}

// At the deadline the query ends, timed out, listing who did not finish; later results are
// dropped.
TEST_F(QueryRouterTest, DeadlineEndsWithPendingListed) {
  QueryRouter router = Router();
  for (const char* id : {"a", "b", "c"}) Online(id);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunningQuery> query,
                       router.Start(Request({"a", "b", "c"}, absl::Seconds(5))));
  router.QueryResultReported("b", Result(query->id(), Rows(1)));
  router.QueryResultReported("c", Result(query->id(), Rows(1), /*last=*/false));
  EXPECT_FALSE(query->Take(absl::ZeroDuration()).ended);
  clock_.Advance(absl::Seconds(5));
  router.QueryResultReported("a", Result(query->id(), Rows(1)));  // too late
  bool ended = false;
  TakeAll(*query, &ended);
  EXPECT_TRUE(ended);
  v1::QuerySummary summary = query->Summary();
  EXPECT_TRUE(summary.timed_out());
  EXPECT_EQ(summary.progress().answered(), 1);
  EXPECT_EQ(summary.progress().pending(), 2);
  EXPECT_THAT(summary.pending_ids(), ElementsAre("a", "c"));
}

// Shutting down ends every running query at once, interrupted (not timed out), with what came
// kept for the caller and the pending named; later results are dropped and new queries refused.
TEST_F(QueryRouterTest, InterruptEndsRunningQueriesAndRefusesNewOnes) {
  QueryRouter router = Router();
  for (const char* id : {"a", "b"}) Online(id);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunningQuery> query, router.Start(Request({"a", "b"})));
  router.QueryResultReported("b", Result(query->id(), Rows(2)));
  router.Interrupt();
  router.QueryResultReported("a", Result(query->id(), Rows(1)));  // too late
  bool ended = false;
  std::vector<v1::QueryRows> rows = TakeAll(*query, &ended);
  EXPECT_TRUE(ended);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].agent_id(), "b");
  v1::QuerySummary summary = query->Summary();
  EXPECT_TRUE(summary.interrupted());
  EXPECT_FALSE(summary.timed_out());
  EXPECT_EQ(summary.progress().answered(), 1);
  EXPECT_THAT(summary.pending_ids(), ElementsAre("a"));
  absl::StatusOr<std::unique_ptr<RunningQuery>> late = router.Start(Request({"a"}));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(late.status().message(), HasSubstr("shutting down"));
}

// A caller that goes away ends the query: its mail leaves the mailbox, its place is freed and
// later results are dropped.
TEST_F(QueryRouterTest, CallerGoingAwayRemovesMail) {
  QueryRouter router = Router();
  Online("a");
  Online("b");
  std::unique_ptr<RunningQuery> query;
  { ASSERT_OK_AND_ASSIGN(query, router.Start(Request({"a", "b"}))); }
  const std::string id = query->id();
  EXPECT_EQ(router.running(), 1);
  EXPECT_EQ(mailbox_.Size().second, 2u);
  query.reset();
  EXPECT_EQ(router.running(), 0);
  EXPECT_EQ(mailbox_.Size().second, 0u);
  EXPECT_FALSE(MailFor("a").has_value());
  router.QueryResultReported("a", Result(id, Rows(1)));  // dropped: nothing to crash on
}

// Results from an agent not asked, of an unknown query, or after the agent's last are dropped.
TEST_F(QueryRouterTest, StrayResultsAreDropped) {
  QueryRouter router = Router();
  Online("a");
  Online("b");
  Online("stranger");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunningQuery> query,
                       router.Start(Request({"a", "b", "offline"})));
  router.QueryResultReported("a", Result(query->id(), Rows(1)));
  router.QueryResultReported("a", Result(query->id(), Rows(3)));         // after its last
  router.QueryResultReported("stranger", Result(query->id(), Rows(1)));  // not a target
  router.QueryResultReported("offline", Result(query->id(), Rows(1)));   // not asked
  router.QueryResultReported("b", Result("ffffffffffff", Rows(1)));      // unknown query
  std::vector<v1::QueryRows> rows = TakeAll(*query);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].agent_id(), "a");
  EXPECT_EQ(rows[0].rows_json(), Rows(1));
  v1::QueryProgress progress = query->Progress();
  EXPECT_EQ(progress.answered(), 1);
  EXPECT_EQ(progress.pending(), 1);
}

// Rows beyond --query-max-rows-per-agent, over all of an agent's results, are cut and marked.
TEST_F(QueryRouterTest, RowsPerAgentAreCut) {
  QueryRouter router = Router({.max_rows_per_agent = 5});
  Online("a");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunningQuery> query, router.Start(Request({"a"})));
  router.QueryResultReported("a", Result(query->id(), Rows(3), /*last=*/false));
  router.QueryResultReported("a", Result(query->id(), Rows(4), /*last=*/false));
  router.QueryResultReported("a", Result(query->id(), Rows(2)));
  std::vector<v1::QueryRows> rows = TakeAll(*query);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].rows_json(), Rows(3));
  EXPECT_FALSE(rows[0].truncated());
  EXPECT_EQ(rows[1].rows_json(), Rows(2));
  EXPECT_TRUE(rows[1].truncated());
  EXPECT_EQ(rows[2].rows_json(), "[]");
  EXPECT_TRUE(rows[2].truncated());
  EXPECT_TRUE(rows[2].last());
}

// Beyond --query-max-bytes of results not taken yet, rows are dropped and marked, once per
// agent and with its last result; what the caller took makes room again.
TEST_F(QueryRouterTest, BytesLimitDropsRowsAndMarksThem) {
  const std::string big = Rows(100);  // about 1 KiB
  QueryRouter router = Router({.max_bytes = static_cast<int64_t>(big.size()) * 2 + 300});
  for (const char* id : {"a", "b", "c"}) Online(id);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunningQuery> query, router.Start(Request({"a", "b", "c"})));
  router.QueryResultReported("a", Result(query->id(), big));
  router.QueryResultReported("b", Result(query->id(), big, /*last=*/false));
  router.QueryResultReported("c", Result(query->id(), big, /*last=*/false));  // over: dropped
  router.QueryResultReported("c", Result(query->id(), big, /*last=*/false));  // not even marked
  router.QueryResultReported("c", Result(query->id(), big));                  // its last: marked
  std::vector<v1::QueryRows> rows = TakeAll(*query);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].rows_json(), big);
  EXPECT_EQ(rows[1].rows_json(), big);
  EXPECT_EQ(rows[2].agent_id(), "c");
  EXPECT_EQ(rows[2].rows_json(), "[]");
  EXPECT_TRUE(rows[2].truncated());
  EXPECT_FALSE(rows[2].last());
  EXPECT_TRUE(rows[3].truncated());
  EXPECT_TRUE(rows[3].last());
  // Taken: room for b's next rows.
  router.QueryResultReported("b", Result(query->id(), big));
  rows = TakeAll(*query);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].rows_json(), big);
  EXPECT_FALSE(rows[0].truncated());
  EXPECT_EQ(query->Summary().progress().answered(), 3);
}

// Beyond --max-concurrent-queries a start is refused with RESOURCE_EXHAUSTED; once one ends
// and its caller lets go, another may start.
TEST_F(QueryRouterTest, ConcurrencyLimit) {
  QueryRouter router = Router({.max_concurrent = 2});
  Online("a");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunningQuery> first, router.Start(Request({"a"})));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunningQuery> second, router.Start(Request({"a"})));
  EXPECT_NE(first->id(), second->id());
  absl::StatusOr<std::unique_ptr<RunningQuery>> third = router.Start(Request({"a"}));
  EXPECT_EQ(third.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(third.status().message().find("--max-concurrent-queries"), std::string::npos);
  EXPECT_EQ(router.running(), 2);
  // The refused query left no mail behind.
  EXPECT_EQ(mailbox_.Size().second, 2u);
  first.reset();
  EXPECT_OK(router.Start(Request({"a"})).status());
}

// Take waits for results and wakes when one comes from another thread.
TEST_F(QueryRouterTest, TakeWakesOnAResult) {
  QueryRouter router = Router();
  Online("a");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunningQuery> query, router.Start(Request({"a"})));
  std::thread agent([&] { router.QueryResultReported("a", Result(query->id(), Rows(1))); });
  std::vector<v1::QueryRows> rows;
  bool ended = false;
  for (int i = 0; i < 100 && !ended; ++i) {
    RunningQuery::Taken taken = query->Take(absl::Seconds(10));
    for (v1::QueryRows& r : taken.rows) rows.push_back(std::move(r));
    ended = taken.ended;
  }
  agent.join();
  EXPECT_TRUE(ended);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0].last());
}

// With a gather time, a Take that found one result waits for the others answering meanwhile and
// takes them together; the query ending stops the wait.
TEST_F(QueryRouterTest, TakeGathersResultsUntilTheQueryEnds) {
  QueryRouter router = Router();
  for (const char* id : {"a", "b", "c"}) Online(id);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunningQuery> query, router.Start(Request({"a", "b", "c"})));
  router.QueryResultReported("a", Result(query->id(), Rows(1)));
  std::thread agents([&] {
    absl::SleepFor(absl::Milliseconds(20));
    router.QueryResultReported("b", Result(query->id(), Rows(1)));
    router.QueryResultReported("c", Result(query->id(), Rows(1)));
  });
  RunningQuery::Taken taken = query->Take(absl::Seconds(10), int64_t{1} << 20, absl::Minutes(1));
  agents.join();
  EXPECT_TRUE(taken.ended);
  ASSERT_EQ(taken.rows.size(), 3u);
  EXPECT_EQ(taken.rows[0].agent_id(), "a");
  EXPECT_EQ(taken.rows[2].agent_id(), "c");
}

// Gathering stops once about `max_bytes` of results wait, before the query ends: here a and b's
// results fill it, and c answers only once the Take returned (or after 5 s, if it never did).
TEST_F(QueryRouterTest, TakeGathersNoMoreThanMaxBytes) {
  QueryRouter router = Router();
  for (const char* id : {"a", "b", "c"}) Online(id);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<RunningQuery> query, router.Start(Request({"a", "b", "c"})));
  const std::string rows = Rows(100);  // about 1 KiB each
  router.QueryResultReported("a", Result(query->id(), rows));
  absl::Notification returned;
  bool returned_before_c = false;
  std::thread agents([&] {
    router.QueryResultReported("b", Result(query->id(), rows));
    returned_before_c = returned.WaitForNotificationWithTimeout(absl::Seconds(5));
    router.QueryResultReported("c", Result(query->id(), rows));
  });
  RunningQuery::Taken taken =
      query->Take(absl::Seconds(10), static_cast<int64_t>(rows.size()) * 2, absl::Minutes(1));
  returned.Notify();
  agents.join();
  EXPECT_TRUE(returned_before_c);
  EXPECT_FALSE(taken.ended);
  ASSERT_EQ(taken.rows.size(), 2u);
  EXPECT_EQ(taken.rows[1].agent_id(), "b");
  EXPECT_EQ(TakeAll(*query).size(), 1u);
}

}  // namespace
}  // namespace fleet::server
