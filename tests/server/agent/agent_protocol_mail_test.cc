// AgentProtocol's actions and live queries (agent.proto, "Actions", "Live queries"): the agent's
// mail written after Hello, once per stream, its sender told once written; ActionStatus and
// QueryResult checked, cut and handed to their sinks; a status for no action of the agent ends
// the stream.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "server/agent/agent_protocol.h"
#include "server/control/agent_mailbox.h"
#include "server/control/agent_reports.h"
#include "tests/server/agent/agent_protocol_test_env.h"

namespace fleet::server {
namespace {

class RecordingSinks final : public ActionReportSink, public QueryReportSink, public MailSender {
 public:
  absl::Status ActionStatusReported(const std::string& agent_id,
                                    const v1::ActionStatus& status) override {
    if (status.id() != "a1") return absl::NotFoundError("no such action");
    statuses.push_back(status);
    EXPECT_EQ(agent_id, kAgent);
    return absl::OkStatus();
  }
  void QueryResultReported(const std::string& agent_id, const v1::QueryResult& result) override {
    EXPECT_EQ(agent_id, kAgent);
    results.push_back(result);
  }
  void Delivered(const std::string& agent_id, const Mail& mail) override {
    EXPECT_EQ(agent_id, kAgent);
    delivered.push_back(mail.id);
  }

  std::vector<v1::ActionStatus> statuses;
  std::vector<v1::QueryResult> results;
  std::vector<std::string> delivered;
};

class AgentProtocolMailTest : public AgentProtocolTest {
 protected:
  AgentProtocolDeps MailDeps() {
    AgentProtocolDeps deps = Deps();
    deps.mailbox = &mailbox_;
    deps.actions = &sinks_;
    deps.queries = &sinks_;
    return deps;
  }

  // Posts an action mail with `id` for the agent, due now.
  void PostAction(const std::string& id) {
    auto mail = std::make_shared<Mail>();
    mail->kind = Mail::Kind::kAction;
    mail->id = id;
    v1::ServerMessage message;
    message.mutable_action()->set_id(id);
    message.mutable_action()->set_type("restart");
    mail->bytes = std::make_shared<const std::string>(message.SerializeAsString());
    mail->sender = &sinks_;
    mailbox_.Post(mail, {{kAgent, absl::InfinitePast()}});
  }

  // Opens `protocol` at p@1 (nothing to update): Hello, Welcome landed; returns what follows.
  AgentProtocol::Action OpenAtOne(AgentProtocol& protocol) {
    AgentProtocol::ReadOutcome outcome = protocol.OnMessage(Hello("p", 1));
    EXPECT_TRUE(Written(outcome.action).has_welcome());
    return protocol.OnWriteDone(true);
  }

  static v1::AgentMessage Status(const std::string& id, v1::ActionStatus::State state) {
    v1::AgentMessage message;
    message.mutable_action_status()->set_id(id);
    message.mutable_action_status()->set_state(state);
    return message;
  }

  RecordingSinks sinks_;
  AgentMailbox mailbox_{clock_};
  AgentProtocol mail_protocol_{MailDeps(), kAgent, "p"};
};

// Mail waiting before Hello goes out after the Welcome, in order, each once on the stream, and
// its sender hears of each once its write completed (not before).
TEST_F(AgentProtocolMailTest, MailAfterWelcomeOncePerStream) {
  PostAction("a1");
  PostAction("a2");
  AgentProtocol::Action first = OpenAtOne(mail_protocol_);
  EXPECT_EQ(Written(first).action().id(), "a1");
  EXPECT_TRUE(sinks_.delivered.empty());
  // One write in flight: a kick meanwhile writes nothing.
  ExpectNothing(mail_protocol_.OnPolicyChanged());
  AgentProtocol::Action second = mail_protocol_.OnWriteDone(true);
  EXPECT_EQ(sinks_.delivered, std::vector<std::string>{"a1"});
  EXPECT_EQ(Written(second).action().id(), "a2");
  ExpectNothing(mail_protocol_.OnWriteDone(true));
  EXPECT_EQ(sinks_.delivered, (std::vector<std::string>{"a1", "a2"}));
  // Still in the mailbox (not finished), but never written twice on this stream.
  ExpectNothing(mail_protocol_.OnPolicyChanged());

  // The agent's next stream gets both again: it treats them by id.
  AgentProtocol next(MailDeps(), kAgent, "p");
  EXPECT_EQ(Written(OpenAtOne(next)).action().id(), "a1");
}

// Mail posted while the stream is open goes out on the kick that follows, also while a policy
// update is unacknowledged.
TEST_F(AgentProtocolMailTest, MailDoesNotWaitForAnAck) {
  ExpectNothing(OpenAtOne(mail_protocol_));
  updates_.Commit("p", 2);
  EXPECT_EQ(WrittenUpdate(mail_protocol_.OnPolicyChanged()).target_revision(), 2);
  ExpectNothing(mail_protocol_.OnWriteDone(true));
  PostAction("a1");
  EXPECT_EQ(Written(mail_protocol_.OnPolicyChanged()).action().id(), "a1");
}

// A failed write tells the sender nothing: the mail was not delivered.
TEST_F(AgentProtocolMailTest, FailedWriteIsNoDelivery) {
  PostAction("a1");
  EXPECT_TRUE(Written(OpenAtOne(mail_protocol_)).has_action());
  ExpectFinish(mail_protocol_.OnWriteDone(false), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(sinks_.delivered.empty());
}

// ActionStatus goes to the action sink with its message cut to 1 KiB; the stream reads on.
TEST_F(AgentProtocolMailTest, ActionStatusReachesTheSink) {
  ExpectNothing(OpenAtOne(mail_protocol_));
  v1::AgentMessage status = Status("a1", v1::ActionStatus::RUNNING);
  status.mutable_action_status()->set_progress_percent(40);
  status.mutable_action_status()->set_message(std::string(5000, 'm'));
  AgentProtocol::ReadOutcome outcome = mail_protocol_.OnMessage(status);
  EXPECT_TRUE(outcome.read_next);
  ASSERT_EQ(sinks_.statuses.size(), 1u);
  EXPECT_EQ(sinks_.statuses[0].progress_percent(), 40);
  EXPECT_EQ(sinks_.statuses[0].message().size(), 1024u);
}

// An ActionStatus for an action that does not name the agent ends the stream with
// INVALID_ARGUMENT naming the field.
TEST_F(AgentProtocolMailTest, StatusOfNoActionEndsTheStream) {
  ExpectNothing(OpenAtOne(mail_protocol_));
  AgentProtocol::ReadOutcome outcome =
      mail_protocol_.OnMessage(Status("ffffffffffff", v1::ActionStatus::SUCCEEDED));
  EXPECT_FALSE(outcome.read_next);
  ExpectFinish(outcome.action, absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(outcome.action.status.message(), "ActionStatus.id"))
      << outcome.action.status;
}

// Reports out of bounds end the stream with INVALID_ARGUMENT naming the field, and reach no
// sink: an unset state, progress over 100, output over 64 KiB, rows that are no JSON array of
// objects, a report before Hello.
TEST_F(AgentProtocolMailTest, ReportsOutOfBoundsRefused) {
  struct Case {
    v1::AgentMessage message;
    std::string field;
  };
  std::vector<Case> cases;
  cases.push_back({Status("a1", v1::ActionStatus::STATE_UNSPECIFIED), "ActionStatus.state"});
  v1::AgentMessage progress = Status("a1", v1::ActionStatus::RUNNING);
  progress.mutable_action_status()->set_progress_percent(101);
  cases.push_back({progress, "ActionStatus.progress_percent"});
  v1::AgentMessage output = Status("a1", v1::ActionStatus::SUCCEEDED);
  output.mutable_action_status()->set_output(std::string(64 * 1024 + 1, 'o'));
  cases.push_back({output, "ActionStatus.output"});
  for (const char* rows : {"{\"a\": 1}", "[1, 2]", "[{\"a\": 1}", "nope"}) {
    v1::AgentMessage result;
    result.mutable_query_result()->set_id("q1");
    result.mutable_query_result()->set_rows_json(rows);
    cases.push_back({result, "QueryResult.rows_json"});
  }
  for (const Case& c : cases) {
    AgentProtocol protocol(MailDeps(), kAgent, "p");
    ExpectNothing(OpenAtOne(protocol));
    AgentProtocol::ReadOutcome outcome = protocol.OnMessage(c.message);
    EXPECT_FALSE(outcome.read_next) << c.field;
    ExpectFinish(outcome.action, absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(outcome.action.status.message(), c.field))
        << outcome.action.status;
  }
  AgentProtocol early(MailDeps(), kAgent, "p");
  ExpectFinish(early.OnMessage(Status("a1", v1::ActionStatus::ACCEPTED)).action,
               absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(sinks_.statuses.empty());
  EXPECT_TRUE(sinks_.results.empty());
}

// QueryResult goes to the query sink with its error cut to 1 KiB.
TEST_F(AgentProtocolMailTest, QueryResultReachesTheSink) {
  ExpectNothing(OpenAtOne(mail_protocol_));
  v1::AgentMessage result;
  result.mutable_query_result()->set_id("q1");
  result.mutable_query_result()->set_rows_json("[{\"pid\": 1}, {\"pid\": 2}]");
  result.mutable_query_result()->set_error(std::string(3000, 'e'));
  result.mutable_query_result()->set_last(true);
  EXPECT_TRUE(mail_protocol_.OnMessage(result).read_next);
  ASSERT_EQ(sinks_.results.size(), 1u);
  EXPECT_EQ(sinks_.results[0].rows_json(), "[{\"pid\": 1}, {\"pid\": 2}]");
  EXPECT_EQ(sinks_.results[0].error().size(), 1024u);
  EXPECT_TRUE(sinks_.results[0].last());
}

// A Hello's agent_version goes into the agent's state; an overlong one is refused.
TEST_F(AgentProtocolMailTest, HelloAgentVersion) {
  v1::AgentMessage hello = Hello("p", 1);
  hello.mutable_hello()->set_agent_version("2.0.1");
  EXPECT_TRUE(mail_protocol_.OnMessage(hello).read_next);
  std::optional<record::AgentStatusRecord> state = Stored();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->agent_version(), "2.0.1");

  AgentProtocol other(MailDeps(), kAgent, "p");
  hello.mutable_hello()->set_agent_version(std::string(65, 'v'));
  ExpectFinish(other.OnMessage(hello).action, absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace fleet::server
