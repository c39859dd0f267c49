// AgentProtocol without a network: each test drives one rule of the Connect stream
// (agent.proto) through the protocol's events, playing both the agent and the transport, and
// checks the decisions and the agent's state (a real AgentStateTracker on a MemoryStore).
#include "server/agent/agent_protocol.h"

#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "gtest/gtest.h"
#include "server/model/store_layout.h"
#include "tests/server/agent/agent_protocol_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

// A first message other than Hello ends the stream with INVALID_ARGUMENT, and nothing is read on.
TEST_F(AgentProtocolTest, HelloFirst) {
  AgentProtocol::ReadOutcome outcome = protocol_.OnMessage(Heartbeat());
  EXPECT_FALSE(outcome.read_next);
  ExpectFinish(outcome.action, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(outcome.action.status.message(), "the stream must open with Hello");
  EXPECT_EQ(updates_.asks(), 0);
  ExpectNothing(protocol_.OnAgentClosed());  // one Finish only
}

// An unreadable message, or one with nothing set, is a protocol error.
TEST_F(AgentProtocolTest, UnreadableOrEmptyMessageRefused) {
  AgentProtocol::ReadOutcome unreadable = protocol_.OnUnreadableMessage();
  EXPECT_FALSE(unreadable.read_next);
  ExpectFinish(unreadable.action, absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(unreadable.action.status.message(), "not valid UTF-8"))
      << unreadable.action.status;

  AgentProtocol other(Deps(), "other", "p");
  ASSERT_EQ(other.OnMessage(Hello("p", 0)).action.kind, Kind::kWrite);
  ASSERT_EQ(other.OnWriteDone(true).kind, Kind::kWrite);  // the FULL document
  ExpectNothing(other.OnWriteDone(true));
  AgentProtocol::ReadOutcome empty = other.OnMessage(v1::AgentMessage());
  EXPECT_FALSE(empty.read_next);
  ExpectFinish(empty.action, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.action.status.message(), "empty AgentMessage");
}

// Hello is answered with Welcome (heartbeat interval, the assigned policy), then the update; the
// agent shows online on its policy.
TEST_F(AgentProtocolTest, WelcomeThenTheUpdate) {
  AgentProtocol::ReadOutcome outcome = protocol_.OnMessage(Hello("", 0));
  EXPECT_TRUE(outcome.read_next);
  const v1::ServerMessage welcome = Written(outcome.action);
  ASSERT_TRUE(welcome.has_welcome());
  EXPECT_EQ(welcome.welcome().policy(), "p");
  EXPECT_EQ(welcome.welcome().heartbeat_interval().seconds(), 15);
  // One write in flight: a kick meanwhile writes nothing.
  ExpectNothing(protocol_.OnPolicyChanged());

  const v1::PolicyUpdate update = WrittenUpdate(protocol_.OnWriteDone(true));
  EXPECT_EQ(update.kind(), v1::PolicyUpdate::FULL);
  EXPECT_EQ(update.target_revision(), 1);
  std::optional<record::AgentStatusRecord> state = Stored();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->status(), v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(state->policy(), "p");
  EXPECT_EQ(state->applied_revision(), 0);
}

// A second Hello ends the stream with INVALID_ARGUMENT.
TEST_F(AgentProtocolTest, SecondHelloRefused) {
  ExpectNothing(Open(Hello("p", 1)));
  AgentProtocol::ReadOutcome outcome = protocol_.OnMessage(Hello("p", 1));
  EXPECT_FALSE(outcome.read_next);
  ExpectFinish(outcome.action, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(outcome.action.status.message(), "Hello may only open the stream");
}

// With an update unacknowledged, a newer revision is not sent (the source is not even asked).
TEST_F(AgentProtocolTest, OneUnackedUpdate) {
  EXPECT_EQ(AtOneThenDeliver(2).target_revision(), 2);
  const int asks = updates_.asks();
  updates_.Commit("p", 3);
  ExpectNothing(protocol_.OnPolicyChanged());
  EXPECT_EQ(updates_.asks(), asks);
}

// Revisions committed while an update is in flight coalesce: the next update goes to the newest.
TEST_F(AgentProtocolTest, CoalescesToTheNewestRevision) {
  AtOneThenDeliver(2);
  updates_.Commit("p", 3);
  ExpectNothing(protocol_.OnPolicyChanged());
  updates_.Commit("p", 4);
  ExpectNothing(protocol_.OnPolicyChanged());

  AgentProtocol::ReadOutcome acked = protocol_.OnMessage(Ack(2, Sha("p", 2)));
  EXPECT_TRUE(acked.read_next);
  const v1::PolicyUpdate next = WrittenUpdate(acked.action);
  EXPECT_EQ(next.kind(), v1::PolicyUpdate::DELTA);
  EXPECT_EQ(next.base_revision(), 2);
  EXPECT_EQ(next.target_revision(), 4);
}

// An Ack with the sent hash moves the agent: its state shows the revision, and the next update
// starts from it.
TEST_F(AgentProtocolTest, AckMovesTheAgent) {
  AtOneThenDeliver(2);
  Say(Ack(2, Sha("p", 2)));
  std::optional<record::AgentStatusRecord> state = Stored();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->policy(), "p");
  EXPECT_EQ(state->applied_revision(), 2);
  EXPECT_EQ(state->nacked_revision(), 0);

  updates_.Commit("p", 3);
  EXPECT_EQ(WrittenUpdate(protocol_.OnPolicyChanged()).base_revision(), 2);
}

// A Nack keeps the agent where it is, with the reason in its state; the refused revision is not
// sent again, and the next revision comes from where the agent still is.
TEST_F(AgentProtocolTest, NackKeepsTheAgentWhereItIs) {
  AtOneThenDeliver(2);
  Say(Nack(2, "the sensor cannot run it"));
  std::optional<record::AgentStatusRecord> state = Stored();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->applied_revision(), 1);
  EXPECT_EQ(state->nacked_revision(), 2);
  EXPECT_EQ(state->nack_reason(), "the sensor cannot run it");
  ExpectNothing(protocol_.OnPolicyChanged());  // not 2 again

  updates_.Commit("p", 3);
  const v1::PolicyUpdate next = WrittenUpdate(protocol_.OnPolicyChanged());
  EXPECT_EQ(next.base_revision(), 1);
  EXPECT_EQ(next.target_revision(), 3);
}

// A Nack asking for FULL gets the FULL document of the refused revision, once: a refused FULL is
// not sent again.
TEST_F(AgentProtocolTest, NeedsFullGetsFullOnce) {
  AtOneThenDeliver(2);
  AgentProtocol::ReadOutcome nacked = protocol_.OnMessage(Nack(2, "bad base", true));
  EXPECT_TRUE(nacked.read_next);
  const v1::PolicyUpdate full = WrittenUpdate(nacked.action);
  EXPECT_EQ(full.kind(), v1::PolicyUpdate::FULL);
  EXPECT_EQ(full.target_revision(), 2);
  ExpectNothing(protocol_.OnWriteDone(true));

  Say(Nack(2, "still bad", true));
  ExpectNothing(protocol_.OnPolicyChanged());
  EXPECT_EQ(Stored()->nack_reason(), "still bad");
}

// An Ack of content with another hash than sent is a refusal: the agent stays where it was, and
// gets the FULL document next.
TEST_F(AgentProtocolTest, AckWithAnotherHash) {
  AtOneThenDeliver(2);
  AgentProtocol::ReadOutcome acked = protocol_.OnMessage(Ack(2, "not-the-sent-hash"));
  EXPECT_TRUE(acked.read_next);
  const v1::PolicyUpdate full = WrittenUpdate(acked.action);
  EXPECT_EQ(full.kind(), v1::PolicyUpdate::FULL);
  EXPECT_EQ(full.target_revision(), 2);
  std::optional<record::AgentStatusRecord> state = Stored();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->applied_revision(), 1);
  EXPECT_EQ(state->nacked_revision(), 2);
  EXPECT_EQ(state->nack_reason(), "acked content with another hash");
}

// An Ack or Nack for a revision that is not in flight ends the stream with INVALID_ARGUMENT.
TEST_F(AgentProtocolTest, AnswerForARevisionNotInFlight) {
  AtOneThenDeliver(2);
  AgentProtocol::ReadOutcome outcome = protocol_.OnMessage(Ack(3, Sha("p", 3)));
  EXPECT_FALSE(outcome.read_next);
  ExpectFinish(outcome.action, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(outcome.action.status.message(),
            "Ack for revision 3, which is not the update in flight");
  EXPECT_EQ(Stored()->applied_revision(), 1);

  AgentProtocol idle(Deps(), "other", "p");
  ASSERT_EQ(idle.OnMessage(Hello("p", 2)).action.kind, Kind::kWrite);
  ExpectNothing(idle.OnWriteDone(true));  // up to date: nothing in flight
  ExpectFinish(idle.OnMessage(Nack(2, "never sent")).action, absl::StatusCode::kInvalidArgument);
}

// Reassigned with an update in flight: the new policy's update goes next, the late answer to
// the old one is dropped without moving the agent, and the new one's Ack moves it.
TEST_F(AgentProtocolTest, ReassignedWithAnUpdateInFlight) {
  AtOneThenDeliver(2);
  updates_.Commit("q", 7);
  const v1::PolicyUpdate next = WrittenUpdate(protocol_.OnReassigned("q"));
  EXPECT_EQ(next.policy(), "q");
  EXPECT_EQ(next.kind(), v1::PolicyUpdate::FULL);
  EXPECT_EQ(next.target_revision(), 7);
  ExpectNothing(protocol_.OnWriteDone(true));

  Say(Ack(2, Sha("p", 2)));  // dropped
  EXPECT_EQ(Stored()->applied_revision(), 1);
  Say(Ack(7, Sha("q", 7)));
  std::optional<record::AgentStatusRecord> state = Stored();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->policy(), "q");
  EXPECT_EQ(state->applied_revision(), 7);
  // The abandoned answer is dropped once only.
  ExpectFinish(protocol_.OnMessage(Ack(2, Sha("p", 2))).action, absl::StatusCode::kInvalidArgument);
}

// Reassigned to the policy it is on (another field of its record changed): the update in flight
// stays in flight, and its Ack counts.
TEST_F(AgentProtocolTest, ReassignedToTheSamePolicyChangesNothing) {
  AtOneThenDeliver(2);
  ExpectNothing(protocol_.OnReassigned("p"));
  Say(Ack(2, Sha("p", 2)));
  EXPECT_EQ(Stored()->applied_revision(), 2);
}

// Unenrolled: the stream ends with UNAUTHENTICATED (after the write in flight) and the agent's
// state is forgotten, not written as offline.
TEST_F(AgentProtocolTest, Unenrolled) {
  AgentProtocol::ReadOutcome hello = protocol_.OnMessage(Hello("p", 1));
  ASSERT_EQ(hello.action.kind, Kind::kWrite);
  ExpectNothing(protocol_.OnUnenrolled());  // the Welcome is in flight
  ExpectFinish(protocol_.OnWriteDone(true), absl::StatusCode::kUnauthenticated);
  protocol_.OnEnded(/*current=*/true);
  EXPECT_FALSE(Stored().has_value());
}

// Replaced by a newer stream: this one ends with ABORTED, and leaves the agent's state to the
// newer one (not marked offline).
TEST_F(AgentProtocolTest, Replaced) {
  ExpectNothing(Open(Hello("p", 1)));
  const AgentProtocol::Action replaced = protocol_.OnReplaced();
  ExpectFinish(replaced, absl::StatusCode::kAborted);
  EXPECT_EQ(replaced.status.message(), "a newer stream of this agent replaced this one");
  protocol_.OnEnded(/*current=*/false);
  EXPECT_EQ(Stored()->status(), v1::AGENT_STATUS_ONLINE);
}

// A stream replaced while its update was in flight ends after the newer stream delivered and
// got an ack for the same update: that is no failure of the update.
TEST_F(AgentProtocolTest, ReplacedAfterItsSuccessorAckedCountsNoFailure) {
  const v1::PolicyUpdate update = AtOneThenDeliver(2);
  state_.Update(kAgent, [&](record::AgentStatusRecord& state) {
    state.set_applied_revision(update.target_revision());  // as the newer stream's Ack did
  });
  ExpectFinish(protocol_.OnReplaced(), absl::StatusCode::kAborted);
  protocol_.OnEnded(/*current=*/false);
  EXPECT_EQ(Stored()->failures(), 0);
  EXPECT_EQ(Stored()->nacked_revision(), 0);
}

// The agent's own stream ending marks it offline.
TEST_F(AgentProtocolTest, AgentClosedEndsWithOkAndMarksOffline) {
  ExpectNothing(Open(Hello("p", 1)));
  ExpectFinish(protocol_.OnAgentClosed(), absl::StatusCode::kOk);
  protocol_.OnEnded(/*current=*/true);
  EXPECT_EQ(Stored()->status(), v1::AGENT_STATUS_OFFLINE);
}

// A current stream that ends before its Hello still marks the agent offline: the stream it
// replaced left the agent online, and would otherwise count it online for good.
TEST_F(AgentProtocolTest, CurrentStreamEndingBeforeHelloMarksOffline) {
  state_.Update(
      kAgent, [](record::AgentStatusRecord& state) { state.set_status(v1::AGENT_STATUS_ONLINE); });
  ExpectFinish(protocol_.OnAgentClosed(), absl::StatusCode::kOk);
  protocol_.OnEnded(/*current=*/true);
  EXPECT_EQ(Stored()->status(), v1::AGENT_STATUS_OFFLINE);
}

// Shutting down: GoAway goes after the write in flight, no update follows, the agent's answers
// still land, and the stream ends when the agent closes its side.
TEST_F(AgentProtocolTest, GoAway) {
  AgentProtocol::ReadOutcome hello = protocol_.OnMessage(Hello("p", 0));
  ASSERT_EQ(hello.action.kind, Kind::kWrite);
  ExpectNothing(protocol_.OnShutdown());  // the Welcome is in flight
  const v1::ServerMessage go_away = Written(protocol_.OnWriteDone(true));
  ASSERT_TRUE(go_away.has_go_away()) << go_away.ShortDebugString();
  EXPECT_EQ(go_away.go_away().reason(), "fleetd is shutting down");
  EXPECT_EQ(go_away.go_away().reconnect_after().seconds(), 1);
  ExpectNothing(protocol_.OnWriteDone(true));  // not the FULL document the agent lacks
  ExpectNothing(protocol_.OnPolicyChanged());
  ExpectNothing(protocol_.OnReplaced());  // the agent is leaving already
  EXPECT_EQ(updates_.asks(), 0);
  Say(Heartbeat());
  ExpectFinish(protocol_.OnAgentClosed(), absl::StatusCode::kOk);
}

// A failed write: nothing more is written, the stream ends with UNAVAILABLE.
TEST_F(AgentProtocolTest, WriteFailure) {
  AgentProtocol::ReadOutcome hello = protocol_.OnMessage(Hello("p", 0));
  ASSERT_EQ(hello.action.kind, Kind::kWrite);
  ExpectNothing(protocol_.OnShutdown());  // GoAway queued behind the Welcome
  ExpectFinish(protocol_.OnWriteDone(false), absl::StatusCode::kUnavailable);
  ExpectNothing(protocol_.OnPolicyChanged());
  EXPECT_EQ(updates_.asks(), 0);
}

// UNAVAILABLE from the source (content not ready): the protocol writes nothing and does not ask
// again by itself; the kick that follows sends the update.
TEST_F(AgentProtocolTest, UnavailableThenKick) {
  updates_.FailWith(absl::UnavailableError("loading"));
  ExpectNothing(Open(Hello("p", 0)));
  EXPECT_EQ(updates_.asks(), 1);
  updates_.FailWith(absl::OkStatus());
  EXPECT_EQ(WrittenUpdate(protocol_.OnPolicyChanged()).target_revision(), 1);
}

// A deleted policy (NOT_FOUND): nothing is written and the stream stays open; once the policy
// exists again, the kick for it sends its update.
TEST_F(AgentProtocolTest, DeletedPolicyWaits) {
  ExpectNothing(protocol_.OnReassigned("gone"));  // before Hello: nothing to write yet
  ExpectNothing(Open(Hello("p", 1)));
  EXPECT_EQ(updates_.asks(), 1);
  Say(Heartbeat());
  updates_.Commit("gone", 1);
  EXPECT_EQ(WrittenUpdate(protocol_.OnPolicyChanged()).policy(), "gone");
}

// Updates are the source's shared bytes: two streams write the same buffer, not a copy each.
TEST_F(AgentProtocolTest, UpdatesAreTheSourcesSharedBytes) {
  AgentProtocol other(Deps(), "other", "p");
  ASSERT_EQ(other.OnMessage(Hello("", 0)).action.kind, Kind::kWrite);
  const AgentProtocol::Action mine = Open(Hello("", 0));
  const AgentProtocol::Action theirs = other.OnWriteDone(true);
  ASSERT_EQ(mine.kind, Kind::kWrite);
  ASSERT_EQ(theirs.kind, Kind::kWrite);
  EXPECT_EQ(mine.bytes.get(), theirs.bytes.get());
  absl::StatusOr<PreparedUpdatePtr> prepared = updates_.UpdateFor("p", {});
  ASSERT_OK(prepared);
  EXPECT_EQ(mine.bytes.get(), &(*prepared)->serialized_message);
}

// The source is asked without the protocol's lock held, and an update that went stale while it
// was asked for (the agent was moved meanwhile, to a policy deleted since) is dropped.
TEST_F(AgentProtocolTest, StaleUpdateDropped) {
  ASSERT_EQ(protocol_.OnMessage(Hello("p", 1)).action.kind, Kind::kWrite);
  updates_.Commit("p", 2);
  std::optional<AgentProtocol::Action> during;
  updates_.DuringNextAsk([&] { during = protocol_.OnReassigned("gone"); });
  ExpectNothing(protocol_.OnWriteDone(true));  // p@2, stale once it comes
  ASSERT_TRUE(during.has_value());
  ExpectNothing(*during);
  EXPECT_EQ(updates_.asks(), 2);  // p's, then the one for "gone"
  updates_.Commit("gone", 1);
  EXPECT_EQ(WrittenUpdate(protocol_.OnPolicyChanged()).policy(), "gone");
}

// Status reports and heartbeats reach the agent's state.
TEST_F(AgentProtocolTest, StatusReportReachesTheState) {
  ExpectNothing(Open(Hello("p", 1)));
  v1::AgentMessage report;
  report.mutable_status()->set_health(v1::StatusReport::DEGRADED);
  report.mutable_status()->set_message(std::string(2000, 'x'));
  (*report.mutable_status()->mutable_components())["sensor"] = "restarting";
  Say(report);
  clock_.Advance(absl::Seconds(15));
  Say(Heartbeat());
  std::optional<record::AgentStatusRecord> state = Stored();
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->health(), v1::AGENT_HEALTH_DEGRADED);
  EXPECT_EQ(state->health_message().size(), 1024u);
  EXPECT_EQ(state->components().at("sensor"), "restarting");
  EXPECT_EQ(state->last_seen_unix_micros(), absl::ToUnixMicros(clock_.Now()));
}

}  // namespace
}  // namespace fleet::server
