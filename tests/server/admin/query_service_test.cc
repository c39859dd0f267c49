// QueryService on a MemoryStore with the real QueryRouter: the events a RunQuery caller reads, in
// order, and results that came together reaching it in one event.
#include "server/admin/query_service.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/control/agent_mailbox.h"
#include "server/control/query_router.h"
#include "tests/server/admin_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

class QueryServiceTest : public ::testing::Test {
 protected:
  QueryServiceTest() {
    for (const char* id : {"aaaaaaaaaaa1", "aaaaaaaaaaa2", "aaaaaaaaaaa3"}) {
      env_.PutAgent(id, "web", v1::AGENT_STATUS_ONLINE, 0, {{"role", "web"}});
    }
    if (!directory_.Start().ok()) std::abort();
  }
  ~QueryServiceTest() override { mailbox_.Stop(); }

  static v1::RunQueryRequest Request() {
    v1::RunQueryRequest request;
    request.set_query("select 1");
    request.mutable_targets()->set_selector("role=web");
    return request;
  }

  static v1::QueryResult Answer(const std::string& query_id) {
    v1::QueryResult result;
    result.set_id(query_id);
    result.set_rows_json(R"([{"n":1}])");
    result.set_last(true);
    return result;
  }

  AdminTestEnv env_;
  AgentMailbox mailbox_{env_.clock};
  QueryRouter router_{mailbox_, env_.state, env_.clock, {}};
  AgentDirectory directory_{*env_.store};
  QueryService service_{*env_.store, env_.clock, directory_, router_};
};

// Every target answers while the caller reads `started`: the three results come in one
// `results` event, then the summary, which counts them all.
TEST_F(QueryServiceTest, ResultsThatCameTogetherGoInOneEvent) {
  std::vector<v1::QueryEvent> events;
  const auto send = [&](const v1::QueryEvent& event) {
    events.push_back(event);
    if (event.has_started()) {
      for (const char* id : {"aaaaaaaaaaa1", "aaaaaaaaaaa2", "aaaaaaaaaaa3"}) {
        router_.QueryResultReported(id, Answer(event.query_id()));
      }
    }
    return true;
  };
  ASSERT_OK(service_.Run(Request(), send, [] { return false; }));

  ASSERT_EQ(events.size(), 3u);
  EXPECT_TRUE(events[0].has_started());
  EXPECT_EQ(events[0].started().targets(), 3);
  EXPECT_EQ(events[0].started().pending(), 3);
  ASSERT_TRUE(events[1].has_results());
  ASSERT_EQ(events[1].results().rows_size(), 3);
  std::vector<std::string> answered;
  for (const v1::QueryRows& rows : events[1].results().rows()) {
    EXPECT_TRUE(rows.last());
    EXPECT_EQ(rows.rows_json(), R"([{"n":1}])");
    answered.push_back(rows.agent_id());
  }
  EXPECT_EQ(answered, (std::vector<std::string>{"aaaaaaaaaaa1", "aaaaaaaaaaa2", "aaaaaaaaaaa3"}));
  ASSERT_TRUE(events[2].has_summary());
  EXPECT_EQ(events[2].summary().progress().answered(), 3);
  EXPECT_FALSE(events[2].summary().timed_out());
  for (const v1::QueryEvent& event : events) {
    EXPECT_EQ(event.query_id(), events[0].query_id());
  }
}

// A caller that stops reading (send returns false) ends the query: its place is free again.
TEST_F(QueryServiceTest, CallerThatGoesEndsTheQuery) {
  ASSERT_OK(service_.Run(
      Request(), [](const v1::QueryEvent&) { return false; }, [] { return false; }));
  EXPECT_EQ(router_.running(), 0);
}

}  // namespace
}  // namespace fleet::server
