// AgentProtocol without a network, for what an agent may not do to its own state: text cut at a
// character boundary, bounded components, checked fields, claims believed only with a matching
// hash, and updates that keep failing held back.
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "gtest/gtest.h"
#include "server/agent/agent_protocol.h"
#include "server/model/store_layout.h"
#include "tests/server/agent/agent_protocol_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

// A message the agent sends that must end the stream with INVALID_ARGUMENT naming `field`.
void ExpectRefused(AgentProtocol& protocol, const v1::AgentMessage& message,
                   const std::string& field) {
  AgentProtocol::ReadOutcome outcome = protocol.OnMessage(message);
  EXPECT_FALSE(outcome.read_next);
  ExpectFinish(outcome.action, absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(outcome.action.status.message(), field)) << outcome.action.status;
  // The error quotes little of what it refuses.
  EXPECT_LT(outcome.action.status.message().size(), 400u) << outcome.action.status;
}

// 1,023 ASCII bytes and a 2-byte character: cut after the ASCII, not inside the character.
const std::string kLongText = std::string(1023, 'x') + "\xC3\xA9";

// A Nack reason over the bound is cut at a character boundary: the stored state stays valid
// UTF-8 (a record with invalid UTF-8 does not parse back, and every view of it fails).
TEST_F(AgentProtocolTest, NackReasonCutAtACharacterBoundary) {
  AtOneThenDeliver(2);
  Say(Nack(2, kLongText));
  std::optional<record::AgentStatusRecord> state = Stored();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->nack_reason(), std::string(1023, 'x'));
  EXPECT_TRUE(IsValidUtf8(state_.Get(kAgent)->nack_reason()));
}

// Ill-formed bytes in text are replaced, whatever the transport let through.
TEST_F(AgentProtocolTest, IllFormedTextReplaced) {
  AtOneThenDeliver(2);
  Say(Nack(2, "bad \xFF byte"));
  EXPECT_EQ(state_.Get(kAgent)->nack_reason(), "bad \xEF\xBF\xBD byte");
}

// A status message and component values over their bounds are cut at a character boundary.
TEST_F(AgentProtocolTest, StatusTextCutAtACharacterBoundary) {
  ExpectNothing(Open(Hello("p", 1)));
  v1::AgentMessage report;
  report.mutable_status()->set_health(v1::StatusReport::HEALTHY);
  report.mutable_status()->set_message(kLongText);
  (*report.mutable_status()->mutable_components())["sensor"] = std::string(255, 'y') + "\xC3\xA9";
  Say(report);
  std::optional<record::AgentStatusRecord> state = Stored();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->health_message(), std::string(1023, 'x'));
  EXPECT_EQ(state->components().at("sensor"), std::string(255, 'y'));
}

// Components are bounded: more than 64 entries, an empty key, a key over 63 bytes or one with a
// control character end the stream with INVALID_ARGUMENT naming the field, and nothing of the
// report is kept.
TEST_F(AgentProtocolTest, ComponentsBounded) {
  const std::vector<std::function<void(google::protobuf::Map<std::string, std::string>&)>> bad = {
      [](auto& components) {
        for (int i = 0; i < 65; ++i) components[absl::StrCat("c", i)] = "ok";
      },
      [](auto& components) { components[""] = "ok"; },
      [](auto& components) { components[std::string(64, 'k')] = "ok"; },
      [](auto& components) { components["evil\x1b[2J"] = "ok"; },
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    const std::string agent = absl::StrCat("agent", i);
    AgentProtocol protocol(Deps(), agent, "p");
    ASSERT_EQ(protocol.OnMessage(Hello("p", 1)).action.kind, Kind::kWrite);
    ExpectNothing(protocol.OnWriteDone(true));
    v1::AgentMessage report;
    report.mutable_status()->set_message("kept?");
    bad[i](*report.mutable_status()->mutable_components());
    ExpectRefused(protocol, report, "StatusReport.components");
    EXPECT_EQ(state_.Get(agent)->health_message(), "") << i;
    EXPECT_TRUE(state_.Get(agent)->components().empty()) << i;
  }

  // 64 entries of 63-byte keys are fine.
  ExpectNothing(Open(Hello("p", 1)));
  v1::AgentMessage report;
  for (int i = 0; i < 64; ++i) {
    (*report.mutable_status()->mutable_components())[absl::StrCat(std::string(60, 'k'), 100 + i)] =
        "ok";
  }
  Say(report);
  EXPECT_EQ(Stored()->components_size(), 64);
}

// A health outside the enum ends the stream with INVALID_ARGUMENT.
TEST_F(AgentProtocolTest, UnknownHealthRefused) {
  ExpectNothing(Open(Hello("p", 1)));
  v1::AgentMessage report;
  report.mutable_status()->set_health(static_cast<v1::StatusReport::Health>(7));
  ExpectRefused(protocol_, report, "StatusReport.health");
  EXPECT_EQ(state_.Get(kAgent)->health(), v1::AGENT_HEALTH_UNSPECIFIED);
}

// A Hello whose policy is not a policy name, whose revision is negative or whose hash is too
// long to be one, and an Ack with such a hash, end the stream with INVALID_ARGUMENT naming the
// field.
TEST_F(AgentProtocolTest, HelloAndAckFieldsChecked) {
  v1::AgentMessage bad_policy = Hello("p", 0);
  bad_policy.mutable_hello()->set_policy(std::string(100'000, 'P'));
  v1::AgentMessage negative = Hello("p", 0);
  negative.mutable_hello()->set_applied_revision(-1);
  v1::AgentMessage long_hash = Hello("p", 1);
  long_hash.mutable_hello()->set_applied_sha256(std::string(65, 'a'));
  int i = 0;
  for (const auto& [hello, field] :
       {std::pair{bad_policy, "Hello.policy"}, std::pair{negative, "Hello.applied_revision"},
        std::pair{long_hash, "Hello.applied_sha256"}}) {
    AgentProtocol protocol(Deps(), absl::StrCat("agent", i++), "p");
    ExpectRefused(protocol, hello, field);
  }

  AtOneThenDeliver(2);
  ExpectRefused(protocol_, Ack(2, std::string(1'000'000, 'a')), "Ack.sha256");
  EXPECT_EQ(Stored()->applied_revision(), 1);
}

// A Hello claiming a revision the server never made, with a made-up hash, is no proof of
// anything: the agent gets the FULL document, and counts as having applied nothing, also after
// it nacks that.
TEST_F(AgentProtocolTest, HelloClaimIsNotRecordedUnchecked) {
  v1::AgentMessage claim = Hello("p", 1'000'000'000'000'000);
  claim.mutable_hello()->set_applied_sha256(std::string(64, 'b'));
  const v1::PolicyUpdate full = WrittenUpdate(Open(claim));
  EXPECT_EQ(full.kind(), v1::PolicyUpdate::FULL);
  EXPECT_EQ(full.target_revision(), 1);
  EXPECT_EQ(Stored()->applied_revision(), 0);
  ExpectNothing(protocol_.OnWriteDone(true));
  Say(Nack(1, "no"));
  std::optional<record::AgentStatusRecord> state = Stored();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->applied_revision(), 0);
  EXPECT_EQ(state->nacked_revision(), 1);
}

// A Hello naming a revision the server still has but with another hash is treated as holding
// nothing usable: FULL, and nothing applied until the Ack.
TEST_F(AgentProtocolTest, HelloWithAWrongHashHoldsNothing) {
  updates_.Commit("p", 3);
  v1::AgentMessage claim = Hello("p", 2);
  claim.mutable_hello()->set_applied_sha256(Sha("p", 1));
  const v1::PolicyUpdate full = WrittenUpdate(Open(claim));
  EXPECT_EQ(full.kind(), v1::PolicyUpdate::FULL);
  EXPECT_EQ(Stored()->applied_revision(), 0);
  ExpectNothing(protocol_.OnWriteDone(true));
  Say(Ack(3, Sha("p", 3)));
  EXPECT_EQ(Stored()->applied_revision(), 3);
}

// A Hello whose revision and hash match what the server has counts: at the latest revision
// (nothing to send), or at an older one (a DELTA from it).
TEST_F(AgentProtocolTest, HelloMatchingARetainedRevisionCounts) {
  ExpectNothing(Open(Hello("p", 1)));
  EXPECT_EQ(Stored()->applied_revision(), 1);

  updates_.Commit("p", 3);
  AgentProtocol behind(Deps(), "behind", "p");
  ASSERT_EQ(behind.OnMessage(Hello("p", 2)).action.kind, Kind::kWrite);
  const v1::PolicyUpdate delta = WrittenUpdate(behind.OnWriteDone(true));
  EXPECT_EQ(delta.kind(), v1::PolicyUpdate::DELTA);
  EXPECT_EQ(state_.Get("behind")->applied_revision(), 2);
}

// A Hello claiming what the server recorded before, but with a bogus hash, no longer counts
// once the answer shows the hash is not that revision's; while the answer is not ready, what
// the server recorded itself stays.
TEST_F(AgentProtocolTest, HelloClaimCheckedOnceTheSourceAnswers) {
  AtOneThenDeliver(2);
  Say(Ack(2, Sha("p", 2)));
  ExpectFinish(protocol_.OnAgentClosed(), absl::StatusCode::kOk);
  protocol_.OnEnded(/*current=*/true);

  updates_.FailWith(absl::UnavailableError("loading"));
  AgentProtocol next(Deps(), kAgent, "p");
  v1::AgentMessage claim = Hello("p", 2);
  claim.mutable_hello()->set_applied_sha256("bogus");
  ASSERT_EQ(next.OnMessage(claim).action.kind, Kind::kWrite);
  ExpectNothing(next.OnWriteDone(true));
  EXPECT_EQ(state_.Get(kAgent)->applied_revision(), 2);
  updates_.FailWith(absl::OkStatus());
  EXPECT_EQ(WrittenUpdate(next.OnPolicyChanged()).kind(), v1::PolicyUpdate::FULL);
  EXPECT_EQ(state_.Get(kAgent)->applied_revision(), 0);
}

// Delivering an update to agent `kAgent` at p@1 on a fresh stream: Hello, Welcome, the update of
// `revision`; returns the stream, with the update in flight (or nullptr when none was written).
class AgentFailureTest : public AgentProtocolTest {
 protected:
  std::unique_ptr<AgentProtocol> Deliver(int64_t revision) {
    auto stream = std::make_unique<AgentProtocol>(Deps(), kAgent, "p");
    EXPECT_EQ(stream->OnMessage(Hello("p", 1)).action.kind, Kind::kWrite);
    AgentProtocol::Action next = stream->OnWriteDone(true);
    if (next.kind != Kind::kWrite) return nullptr;
    EXPECT_EQ(WrittenUpdate(next).target_revision(), revision);
    ExpectNothing(stream->OnWriteDone(true));
    return stream;
  }
  // The agent's stream ends without an answer to the update in flight.
  static void Drop(std::unique_ptr<AgentProtocol> stream) {
    ASSERT_NE(stream, nullptr);
    ExpectFinish(stream->OnAgentClosed(), absl::StatusCode::kOk);
    stream->OnEnded(/*current=*/true);
  }
  // The agent nacks the update in flight, then its stream ends.
  static void NackAndLeave(std::unique_ptr<AgentProtocol> stream, int64_t revision) {
    ASSERT_NE(stream, nullptr);
    ExpectNothing(stream->OnMessage(Nack(revision, "sensor crashed")).action);
    ExpectFinish(stream->OnAgentClosed(), absl::StatusCode::kOk);
    stream->OnEnded(/*current=*/true);
  }
};

// An agent whose stream ends with the same update unanswered is sent it again after the first
// failures, then held back after the third (1 minute, doubling), and counts as having refused
// it; the next new revision goes out at once.
TEST_F(AgentFailureTest, StreamEndingWithTheUpdateUnansweredHoldsItBack) {
  updates_.Commit("p", 2);
  Drop(Deliver(2));
  Drop(Deliver(2));
  EXPECT_EQ(Stored()->nacked_revision(), 0);  // two failures: still pending
  Drop(Deliver(2));
  std::optional<record::AgentStatusRecord> state = Stored();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->failed_revision(), 2);
  EXPECT_EQ(state->failures(), 3);
  EXPECT_EQ(state->last_failure_unix_micros(), absl::ToUnixMicros(clock_.Now()));
  EXPECT_EQ(state->nacked_revision(), 2);
  EXPECT_EQ(state->nack_reason(),
            "delivery failed 3 times in a row: the stream ended with the update unanswered");

  // Held: the agent stays connected, and gets nothing until the minute is over.
  auto held = std::make_unique<AgentProtocol>(Deps(), kAgent, "p");
  ASSERT_EQ(held->OnMessage(Hello("p", 1)).action.kind, Kind::kWrite);
  ExpectNothing(held->OnWriteDone(true));
  EXPECT_EQ(Stored()->nacked_revision(), 2);  // a Hello does not clear the refusal
  clock_.Advance(absl::Seconds(59));
  ExpectNothing(held->OnMessage(Heartbeat()).action);
  clock_.Advance(absl::Seconds(1));
  AgentProtocol::ReadOutcome after = held->OnMessage(Heartbeat());
  EXPECT_EQ(WrittenUpdate(after.action).target_revision(), 2);
  ExpectNothing(held->OnWriteDone(true));
  Drop(std::move(held));
  EXPECT_EQ(Stored()->failures(), 4);

  // Four failures: held for two minutes.
  auto again = std::make_unique<AgentProtocol>(Deps(), kAgent, "p");
  ASSERT_EQ(again->OnMessage(Hello("p", 1)).action.kind, Kind::kWrite);
  ExpectNothing(again->OnWriteDone(true));
  clock_.Advance(absl::Seconds(119));
  ExpectNothing(again->OnMessage(Heartbeat()).action);
  // A new revision goes out at once.
  updates_.Commit("p", 3);
  EXPECT_EQ(WrittenUpdate(again->OnPolicyChanged()).target_revision(), 3);
}

// Nacks of the same revision, stream after stream, count the same way: held after the third,
// with the agent's own reason kept.
TEST_F(AgentFailureTest, RepeatedNacksHoldTheRevisionBack) {
  updates_.Commit("p", 2);
  for (int i = 0; i < 3; ++i) NackAndLeave(Deliver(2), 2);
  std::optional<record::AgentStatusRecord> state = Stored();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->failures(), 3);
  EXPECT_EQ(state->nacked_revision(), 2);
  EXPECT_EQ(Deliver(2), nullptr);  // held
  clock_.Advance(absl::Minutes(1));
  EXPECT_NE(Deliver(2), nullptr);
}

// An Ack starts the count over: two failures, an Ack, and the next revision's failures count
// from one.
TEST_F(AgentFailureTest, AckStartsTheCountOver) {
  updates_.Commit("p", 2);
  Drop(Deliver(2));
  Drop(Deliver(2));
  std::unique_ptr<AgentProtocol> stream = Deliver(2);
  ASSERT_NE(stream, nullptr);
  ExpectNothing(stream->OnMessage(Ack(2, Sha("p", 2))).action);
  EXPECT_EQ(Stored()->failures(), 0);
  updates_.Commit("p", 3);
  ASSERT_EQ(WrittenUpdate(stream->OnPolicyChanged()).target_revision(), 3);
  ExpectNothing(stream->OnWriteDone(true));
  ExpectFinish(stream->OnAgentClosed(), absl::StatusCode::kOk);
  stream->OnEnded(/*current=*/true);
  std::optional<record::AgentStatusRecord> state = Stored();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->failed_revision(), 3);
  EXPECT_EQ(state->failures(), 1);
  EXPECT_EQ(state->applied_revision(), 2);
}

// A stream the server ends as it shuts down does not count against the agent.
TEST_F(AgentFailureTest, ShutdownIsNotTheAgentsFailure) {
  updates_.Commit("p", 2);
  std::unique_ptr<AgentProtocol> stream = Deliver(2);
  ASSERT_NE(stream, nullptr);
  ASSERT_EQ(stream->OnShutdown().kind, Kind::kWrite);  // GoAway
  ExpectNothing(stream->OnWriteDone(true));
  ExpectFinish(stream->OnAgentClosed(), absl::StatusCode::kOk);
  stream->OnEnded(/*current=*/true);
  EXPECT_EQ(Stored()->failures(), 0);
}

}  // namespace
}  // namespace fleet::server
