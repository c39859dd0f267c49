// AgentProtocol without a network: each test drives one rule of the Connect stream
// (agent.proto) through the protocol's events, playing both the agent and the transport, and
// checks the decisions and the agent's state (a real AgentStateTracker on a MemoryStore).
#include "server/agent/agent_protocol.h"

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/utf8.h"
#include "gtest/gtest.h"
#include "server/model/store_layout.h"
#include "storage/memory_store.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

using Kind = AgentProtocol::Action::Kind;

constexpr char kAgent[] = "0123456789ab";
constexpr absl::Duration kHeartbeat = absl::Seconds(15);

// The hash of a revision's content, as the fake source and a good agent compute it.
std::string Sha(const std::string& policy, int64_t revision) {
  return absl::StrCat(policy, "@", revision);
}

// Updates as the PolicyEngine hands them out: to the latest revision, a DELTA from the agent's
// revision when it is on the policy with the right hash, else FULL; each (policy, base, target)
// prepared once and shared. Used from the test's thread only.
class FakeUpdateSource final : public UpdateSource {
 public:
  void Commit(const std::string& policy, int64_t revision) { latest_[policy] = revision; }
  // UpdateFor answers `status` (OK: updates again).
  void FailWith(absl::Status status) { failure_ = std::move(status); }
  // Runs `hook` inside the next UpdateFor, before it answers.
  void DuringNextAsk(std::function<void()> hook) { hook_ = std::move(hook); }
  int asks() const { return asks_; }

  absl::StatusOr<PreparedUpdatePtr> UpdateFor(const std::string& policy,
                                              const AgentPosition& from) override {
    ++asks_;
    if (hook_ != nullptr) std::exchange(hook_, nullptr)();
    if (!failure_.ok()) return failure_;
    auto latest = latest_.find(policy);
    if (latest == latest_.end()) return absl::NotFoundError(policy);
    const int64_t target = latest->second;
    const bool delta = from.policy == policy && !from.needs_full && from.revision > 0 &&
                       from.revision <= target && from.sha256 == Sha(policy, from.revision);
    if (delta && from.revision == target) return nullptr;
    const int64_t base = delta ? from.revision : 0;
    PreparedUpdatePtr& prepared = prepared_[{policy, base, target}];
    if (prepared == nullptr) prepared = Prepare(policy, base, target);
    return prepared;
  }

 private:
  static PreparedUpdatePtr Prepare(const std::string& policy, int64_t base, int64_t target) {
    auto prepared = std::make_shared<PreparedUpdate>();
    prepared->from_revision = base;
    v1::PolicyUpdate& update = prepared->update;
    update.set_kind(base == 0 ? v1::PolicyUpdate::FULL : v1::PolicyUpdate::DELTA);
    update.set_policy(policy);
    update.set_base_revision(base);
    update.set_target_revision(target);
    update.set_sha256(Sha(policy, target));
    v1::ServerMessage message;
    *message.mutable_policy_update() = update;
    prepared->serialized_message = message.SerializeAsString();
    return prepared;
  }

  std::map<std::string, int64_t> latest_;
  std::map<std::tuple<std::string, int64_t, int64_t>, PreparedUpdatePtr> prepared_;
  absl::Status failure_;
  std::function<void()> hook_;
  int asks_ = 0;
};

v1::AgentMessage Hello(const std::string& policy, int64_t revision) {
  v1::AgentMessage message;
  message.mutable_hello()->set_policy(policy);
  message.mutable_hello()->set_applied_revision(revision);
  if (revision != 0) message.mutable_hello()->set_applied_sha256(Sha(policy, revision));
  return message;
}

v1::AgentMessage Ack(int64_t revision, const std::string& sha256) {
  v1::AgentMessage message;
  message.mutable_ack()->set_revision(revision);
  message.mutable_ack()->set_sha256(sha256);
  return message;
}

v1::AgentMessage Nack(int64_t revision, const std::string& reason, bool needs_full = false) {
  v1::AgentMessage message;
  message.mutable_nack()->set_revision(revision);
  message.mutable_nack()->set_reason(reason);
  message.mutable_nack()->set_needs_full(needs_full);
  return message;
}

v1::AgentMessage Heartbeat() {
  v1::AgentMessage message;
  message.mutable_heartbeat();
  return message;
}

// The message `action` writes; an empty one when it writes nothing.
v1::ServerMessage Written(const AgentProtocol::Action& action) {
  v1::ServerMessage message;
  EXPECT_EQ(action.kind, Kind::kWrite);
  if (action.kind == Kind::kWrite) {
    EXPECT_TRUE(message.ParseFromString(*action.bytes));
  }
  return message;
}

// The update `action` writes; an empty one when it writes none.
v1::PolicyUpdate WrittenUpdate(const AgentProtocol::Action& action) {
  v1::ServerMessage message = Written(action);
  EXPECT_TRUE(message.has_policy_update()) << message.ShortDebugString();
  return message.policy_update();
}

void ExpectNothing(const AgentProtocol::Action& action) { EXPECT_EQ(action.kind, Kind::kNone); }

void ExpectFinish(const AgentProtocol::Action& action, absl::StatusCode code) {
  EXPECT_EQ(action.kind, Kind::kFinish);
  EXPECT_EQ(action.status.code(), code) << action.status;
}

class AgentProtocolTest : public ::testing::Test {
 protected:
  AgentProtocolTest() { updates_.Commit("p", 1); }

  // Says Hello and lands the Welcome: returns what follows it (the update, if any).
  AgentProtocol::Action Open(const v1::AgentMessage& hello) {
    AgentProtocol::ReadOutcome outcome = protocol_.OnMessage(hello);
    EXPECT_TRUE(outcome.read_next);
    EXPECT_TRUE(Written(outcome.action).has_welcome());
    return protocol_.OnWriteDone(true);
  }

  // Opens the stream of an agent at p@1, the latest revision, then commits `revision` and
  // delivers its DELTA: returns it.
  v1::PolicyUpdate AtOneThenDeliver(int64_t revision) {
    ExpectNothing(Open(Hello("p", 1)));
    updates_.Commit("p", revision);
    v1::PolicyUpdate update = WrittenUpdate(protocol_.OnPolicyChanged());
    ExpectNothing(protocol_.OnWriteDone(true));
    return update;
  }

  // The agent's message, which must keep the stream reading and write nothing.
  void Say(const v1::AgentMessage& message) {
    AgentProtocol::ReadOutcome outcome = protocol_.OnMessage(message);
    EXPECT_TRUE(outcome.read_next) << message.ShortDebugString();
    ExpectNothing(outcome.action);
  }

  // The agent's state as the next flush writes it; nullopt when none is written.
  std::optional<record::AgentStatusRecord> Stored() {
    EXPECT_OK(state_.Flush());
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> range =
        store_->RangeState(layout::AgentStatusKey(kAgent));
    EXPECT_OK(range);
    if (!range.ok() || range->empty()) return std::nullopt;
    record::AgentStatusRecord state;
    EXPECT_TRUE(state.ParseFromString(range->front().second));
    return state;
  }

  std::unique_ptr<storage::Store> store_ = storage::NewMemoryStore();
  ManualClock clock_{absl::FromUnixSeconds(1'800'000'000)};
  // Flushes only when asked.
  AgentStateTracker state_{*store_, clock_, {.flush_interval = absl::Hours(1)}};
  FakeUpdateSource updates_;
  AgentProtocolDeps Deps() {
    return {
        .updates = updates_, .state = state_, .clock = clock_, .heartbeat_interval = kHeartbeat};
  }

  AgentProtocol protocol_{Deps(), kAgent, "p"};
};

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
