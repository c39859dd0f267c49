// End-to-end: live queries from the admin API's RunQuery to agents on real Connect streams of a
// real fleetd: a query ends as soon as the online targets answered and names the offline ones,
// more queries than --max-concurrent-queries are refused, results over the limits are cut and
// marked, a shutdown ends a running query with its summary, and bad input is refused naming the
// field.
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "fleet/v1/admin.grpc.pb.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fleetd_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/temp_dir.h"
#include "tests/testing/test_agent.h"
#include "tests/testing/test_agent_query.h"

namespace fleet {
namespace {

using ::testing::ElementsAre;
using testing::FleetdProcess;
using ::testing::HasSubstr;
using testing::TempDir;
using testing::TestAgent;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// A JSON array of `n` small row objects.
std::string Rows(int n) {
  std::string json = "[";
  for (int i = 0; i < n; ++i) absl::StrAppend(&json, i == 0 ? "" : ",", "{\"n\":", i, "}");
  return json + "]";
}

// What a RunQuery call streamed, and how it ended.
struct QueryRun {
  std::vector<v1::QueryEvent> events;
  grpc::Status status;
  std::vector<v1::QueryRows> Rows() const {
    std::vector<v1::QueryRows> rows;
    for (const v1::QueryEvent& event : events) {
      for (const v1::QueryRows& got : event.results().rows()) rows.push_back(got);
    }
    return rows;
  }
  const v1::QuerySummary* Summary() const {
    if (events.empty() || !events.back().has_summary()) return nullptr;
    return &events.back().summary();
  }
};

class QueryE2eTest : public ::testing::Test {
 protected:
  void StartFleetd(const std::vector<std::string>& flags = {}) {
    ASSERT_OK_AND_ASSIGN(fleetd_, FleetdProcess::Start(FLEETD_BIN, tmp_.Sub("data"), flags));
    admin_token_ =
        std::string(absl::StripAsciiWhitespace(ReadFile(fleetd_->bootstrap_token_file())));
    stub_ = v1::AdminService::NewStub(
        grpc::CreateChannel(fleetd_->admin_address(), grpc::InsecureChannelCredentials()));
    v1::ApplyPolicyRequest policy;
    policy.set_name("linux");
    policy.set_spec_json(R"({"logs":{"level":"info"}})");
    v1::ApplyPolicyResponse applied;
    grpc::ClientContext apply_context;
    Authorize(apply_context);
    grpc::Status status = stub_->ApplyPolicy(&apply_context, policy, &applied);
    ASSERT_TRUE(status.ok()) << status.error_message();
    v1::CreateEnrollmentTokenRequest token;
    token.set_policy("linux");
    v1::CreateEnrollmentTokenResponse created;
    grpc::ClientContext token_context;
    Authorize(token_context);
    status = stub_->CreateEnrollmentToken(&token_context, token, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
    enrollment_token_ = created.secret();
  }

  void Authorize(grpc::ClientContext& context) {
    context.AddMetadata("authorization", "Bearer " + admin_token_);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  }

  v1::EnrollResponse Enroll(const std::string& hostname) {
    v1::EnrollResponse response;
    grpc::Status status =
        testing::EnrollAgent(fleetd_->agent_address(), enrollment_token_, hostname, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // An agent online: its stream open, its Hello taken (its first update came) and applied.
  std::unique_ptr<TestAgent> Connect(const v1::EnrollResponse& identity) {
    auto agent = std::make_unique<TestAgent>(fleetd_->agent_address(), identity);
    EXPECT_TRUE(agent->Hello());
    EXPECT_TRUE(agent->ApplyNext().has_value());
    return agent;
  }

  struct OnlineAgent {
    v1::EnrollResponse identity;
    std::unique_ptr<TestAgent> agent;
    const std::string& id() const { return identity.agent_id(); }
  };
  // A new agent, enrolled with `hostname` and online (as Connect).
  OnlineAgent EnrollAndConnect(const std::string& hostname) {
    OnlineAgent online{.identity = Enroll(hostname)};
    online.agent = Connect(online.identity);
    return online;
  }

  v1::RunQueryRequest Request(const std::vector<std::string>& agent_ids,
                              const std::string& query = "select * from processes") {
    v1::RunQueryRequest request;
    request.set_query(query);
    for (const std::string& id : agent_ids) request.mutable_targets()->add_agent_ids(id);
    return request;
  }

  // Starts RunQuery; `context` must outlive the reader.
  std::unique_ptr<grpc::ClientReader<v1::QueryEvent>> StartQuery(
      grpc::ClientContext& context, const v1::RunQueryRequest& request) {
    Authorize(context);
    return stub_->RunQuery(&context, request);
  }

  // Reads the call to its end (bounded by its deadline).
  static QueryRun Finish(grpc::ClientReader<v1::QueryEvent>& reader) {
    QueryRun run;
    v1::QueryEvent event;
    while (reader.Read(&event)) run.events.push_back(event);
    run.status = reader.Finish();
    return run;
  }

  // The first event of a call: started, with its query id.
  static v1::QueryEvent ReadStarted(grpc::ClientReader<v1::QueryEvent>& reader) {
    v1::QueryEvent event;
    EXPECT_TRUE(reader.Read(&event));
    EXPECT_TRUE(event.has_started());
    return event;
  }

  QueryRun Run(const v1::RunQueryRequest& request) {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::QueryEvent>> reader = StartQuery(context, request);
    return Finish(*reader);
  }

  TempDir tmp_;
  std::unique_ptr<FleetdProcess> fleetd_;
  std::string admin_token_;
  std::string enrollment_token_;
  std::unique_ptr<v1::AdminService::Stub> stub_;
};

// Two of three targets online: both are asked, the query ends once they answered (well before
// its 10-minute timeout), and the summary names the offline one, never asked.
TEST_F(QueryE2eTest, EndsWhenOnlineTargetsAnsweredAndNamesOffline) {
  StartFleetd();
  v1::EnrollResponse a = Enroll("host-a");
  v1::EnrollResponse b = Enroll("host-b");
  v1::EnrollResponse offline = Enroll("host-off");
  std::unique_ptr<TestAgent> agent_a = Connect(a);
  std::unique_ptr<TestAgent> agent_b = Connect(b);

  v1::RunQueryRequest request = Request({a.agent_id(), b.agent_id(), offline.agent_id()});
  request.mutable_timeout()->set_seconds(600);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::QueryEvent>> reader = StartQuery(context, request);
  v1::QueryEvent started = ReadStarted(*reader);
  EXPECT_EQ(started.started().targets(), 3);
  EXPECT_EQ(started.started().offline(), 1);
  EXPECT_EQ(started.started().pending(), 2);
  EXPECT_EQ(started.query_id().size(), 12u);

  std::optional<v1::AgentQuery> asked_a = testing::NextQuery(*agent_a);
  std::optional<v1::AgentQuery> asked_b = testing::NextQuery(*agent_b);
  ASSERT_TRUE(asked_a.has_value());
  ASSERT_TRUE(asked_b.has_value());
  EXPECT_EQ(asked_a->id(), started.query_id());
  EXPECT_EQ(asked_a->query(), "select * from processes");
  ASSERT_TRUE(testing::SendQueryResult(*agent_a, asked_a->id(), Rows(2), /*last=*/false));
  ASSERT_TRUE(testing::SendQueryResult(*agent_a, asked_a->id(), Rows(1)));
  ASSERT_TRUE(testing::SendQueryResult(*agent_b, asked_b->id(), "", true, "no such table"));

  QueryRun run = Finish(*reader);
  ASSERT_TRUE(run.status.ok()) << run.status.error_message();
  std::vector<v1::QueryRows> rows = run.Rows();
  ASSERT_EQ(rows.size(), 3u);
  int64_t a_rows = 0;
  for (const v1::QueryRows& r : rows) {
    if (r.agent_id() == a.agent_id()) {
      EXPECT_EQ(r.hostname(), "host-a");
      a_rows += r.rows_json() == Rows(2) ? 2 : (r.rows_json() == Rows(1) ? 1 : 0);
    } else {
      EXPECT_EQ(r.agent_id(), b.agent_id());
      EXPECT_EQ(r.error(), "no such table");
    }
  }
  EXPECT_EQ(a_rows, 3);
  const v1::QuerySummary* summary = run.Summary();
  ASSERT_NE(summary, nullptr);
  EXPECT_FALSE(summary->timed_out());
  EXPECT_EQ(summary->progress().answered(), 2);
  EXPECT_EQ(summary->progress().errors(), 1);
  EXPECT_EQ(summary->progress().pending(), 0);
  EXPECT_THAT(summary->offline_ids(), ElementsAre(offline.agent_id()));
  EXPECT_TRUE(summary->pending_ids().empty());
}

// With --max-concurrent-queries 1, a second query while one runs gets RESOURCE_EXHAUSTED; once
// the first one's caller went away, a query runs again.
TEST_F(QueryE2eTest, TooManyConcurrentQueries) {
  StartFleetd({"--max-concurrent-queries", "1"});
  v1::EnrollResponse a = Enroll("host-a");
  std::unique_ptr<TestAgent> agent = Connect(a);
  {
    grpc::ClientContext first_context;
    std::unique_ptr<grpc::ClientReader<v1::QueryEvent>> first =
        StartQuery(first_context, Request({a.agent_id()}));
    ReadStarted(*first);  // running now
    QueryRun second = Run(Request({a.agent_id()}));
    EXPECT_EQ(second.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(second.status.error_message(), HasSubstr("--max-concurrent-queries"));
    first_context.TryCancel();
    Finish(*first);
  }
  // The cancelled query frees its place (when fleetd saw the cancel: bounded retries).
  QueryRun again;
  for (int attempt = 0; attempt < 100; ++attempt) {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::QueryEvent>> reader =
        StartQuery(context, Request({a.agent_id()}));
    v1::QueryEvent event;
    if (reader->Read(&event)) {
      ASSERT_TRUE(event.has_started());
      std::optional<v1::AgentQuery> asked = testing::NextQuery(*agent);
      ASSERT_TRUE(asked.has_value());
      // The cancelled query's mail may come first; answer the one running now.
      while (asked->id() != event.query_id()) {
        asked = testing::NextQuery(*agent);
        ASSERT_TRUE(asked.has_value());
      }
      ASSERT_TRUE(testing::SendQueryResult(*agent, asked->id(), Rows(1)));
      again = Finish(*reader);
      break;
    }
    again.status = reader->Finish();
    ASSERT_EQ(again.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_TRUE(again.status.ok()) << again.status.error_message();
  ASSERT_NE(again.Summary(), nullptr);
  EXPECT_EQ(again.Summary()->progress().answered(), 1);
}

// fleetd shutting down ends a running query with its summary, marked interrupted and naming the
// target that had not answered, instead of cutting the call off with nothing.
TEST_F(QueryE2eTest, AShutdownEndsARunningQueryWithItsSummary) {
  StartFleetd();
  const OnlineAgent quiet = EnrollAndConnect("quiet");
  const OnlineAgent answering = EnrollAndConnect("answering");
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::QueryEvent>> reader =
      StartQuery(context, Request({quiet.id(), answering.id()}));
  const v1::QueryEvent started = ReadStarted(*reader);
  std::optional<v1::AgentQuery> asked = testing::NextQuery(*answering.agent);
  ASSERT_TRUE(asked.has_value());
  ASSERT_TRUE(testing::SendQueryResult(*answering.agent, asked->id(), Rows(2)));
  // The answer is in before fleetd goes: it waits among the results.
  std::vector<v1::QueryEvent> before;
  v1::QueryEvent event;
  while (before.empty() || !before.back().has_results()) {
    ASSERT_TRUE(reader->Read(&event));
    before.push_back(event);
  }
  ASSERT_OK(fleetd_->Stop());
  QueryRun run = Finish(*reader);
  EXPECT_TRUE(run.status.ok()) << run.status.error_message();
  ASSERT_NE(run.Summary(), nullptr);
  const v1::QuerySummary& summary = *run.Summary();
  EXPECT_EQ(summary.query_id(), started.query_id());
  EXPECT_TRUE(summary.interrupted());
  EXPECT_FALSE(summary.timed_out());
  EXPECT_EQ(summary.progress().answered(), 1);
  EXPECT_THAT(summary.pending_ids(), ElementsAre(quiet.id()));
}

// An answer over --query-max-rows-per-agent is cut to the limit and marked truncated; one over
// --query-max-bytes loses its rows, marked truncated.
TEST_F(QueryE2eTest, OversizedResultsAreTruncatedAndMarked) {
  StartFleetd({"--query-max-rows-per-agent", "3", "--query-max-bytes", "4096"});
  v1::EnrollResponse a = Enroll("host-a");
  v1::EnrollResponse b = Enroll("host-b");
  std::unique_ptr<TestAgent> agent_a = Connect(a);
  std::unique_ptr<TestAgent> agent_b = Connect(b);
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReader<v1::QueryEvent>> reader =
      StartQuery(context, Request({a.agent_id(), b.agent_id()}));
  ReadStarted(*reader);
  std::optional<v1::AgentQuery> asked_a = testing::NextQuery(*agent_a);
  std::optional<v1::AgentQuery> asked_b = testing::NextQuery(*agent_b);
  ASSERT_TRUE(asked_a.has_value());
  ASSERT_TRUE(asked_b.has_value());
  ASSERT_TRUE(testing::SendQueryResult(*agent_a, asked_a->id(), Rows(10)));
  // One row of 8 KiB: over the bytes a query may hold.
  const std::string big = absl::StrCat("[{\"blob\":\"", std::string(8192, 'x'), "\"}]");
  ASSERT_TRUE(testing::SendQueryResult(*agent_b, asked_b->id(), big));

  QueryRun run = Finish(*reader);
  ASSERT_TRUE(run.status.ok()) << run.status.error_message();
  std::vector<v1::QueryRows> rows = run.Rows();
  ASSERT_EQ(rows.size(), 2u);
  for (const v1::QueryRows& r : rows) {
    EXPECT_TRUE(r.truncated()) << r.agent_id();
    EXPECT_TRUE(r.last());
    if (r.agent_id() == a.agent_id()) {
      EXPECT_EQ(r.rows_json(), Rows(3));
    } else {
      EXPECT_EQ(r.rows_json(), "[]");
    }
  }
  ASSERT_NE(run.Summary(), nullptr);
  EXPECT_EQ(run.Summary()->progress().answered(), 2);
}

// Bad input gets INVALID_ARGUMENT naming the field.
TEST_F(QueryE2eTest, BadInputNamesTheField) {
  StartFleetd();
  v1::EnrollResponse a = Enroll("host-a");
  struct Case {
    v1::RunQueryRequest request;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({Request({a.agent_id()}, ""), "query"});
  cases.push_back({Request({a.agent_id()}, std::string(16 * 1024 + 1, 'x')), "query"});
  // (Text that is not UTF-8 never reaches RunQuery: gRPC's parse refuses it, INVALID_ARGUMENT.)
  v1::RunQueryRequest zero = Request({a.agent_id()});
  zero.mutable_timeout()->set_seconds(0);
  cases.push_back({zero, "timeout"});
  v1::RunQueryRequest long_timeout = Request({a.agent_id()});
  long_timeout.mutable_timeout()->set_seconds(601);
  cases.push_back({long_timeout, "timeout"});
  cases.push_back({Request({}), "targets"});
  for (const Case& c : cases) {
    QueryRun run = Run(c.request);
    EXPECT_EQ(run.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_THAT(run.status.error_message(), HasSubstr(c.field));
    EXPECT_TRUE(run.events.empty());
  }
}

}  // namespace
}  // namespace fleet
