#include "agent/connection_protocol.h"

#include <google/protobuf/util/time_util.h>

#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "fleet/v1/canonical_json.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace fleet::agent {
namespace {

using google::protobuf::util::TimeUtil;
using Timer = ConnectionProtocol::Timer;

constexpr std::string_view kPolicy = "web";
constexpr std::string_view kRev3 = R"({"inputs": [{"type": "logfile"}]})";
constexpr std::string_view kRev4 = R"({"inputs": [{"type": "logfile"}, {"type": "system"}]})";
constexpr std::string_view kRev5 = R"({"inputs": [{"type": "system"}]})";

std::string ServerHash(std::string_view spec) {
  return v1::Sha256Hex(v1::CanonicalJson(v1::ParseJsonObject(spec, "spec").value()));
}

v1::ServerMessage Full(int64_t revision, std::string_view spec) {
  v1::ServerMessage message;
  v1::PolicyUpdate& update = *message.mutable_policy_update();
  update.set_kind(v1::PolicyUpdate::FULL);
  update.set_policy(std::string(kPolicy));
  update.set_target_revision(revision);
  update.set_document_json(std::string(spec));
  update.set_sha256(ServerHash(spec));
  return message;
}

// A DELTA as fleetd builds it: json::diff between the two specs.
v1::ServerMessage Delta(int64_t base, int64_t revision, std::string_view from,
                        std::string_view to) {
  v1::ServerMessage message;
  v1::PolicyUpdate& update = *message.mutable_policy_update();
  update.set_kind(v1::PolicyUpdate::DELTA);
  update.set_policy(std::string(kPolicy));
  update.set_base_revision(base);
  update.set_target_revision(revision);
  update.set_patch_json(nlohmann::json::diff(v1::ParseJsonObject(from, "from").value(),
                                             v1::ParseJsonObject(to, "to").value())
                            .dump());
  update.set_sha256(ServerHash(to));
  return message;
}

v1::ServerMessage Welcome(absl::Duration heartbeat_interval) {
  v1::ServerMessage message;
  *message.mutable_welcome()->mutable_heartbeat_interval() =
      TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(heartbeat_interval));
  message.mutable_welcome()->set_policy(std::string(kPolicy));
  return message;
}

v1::ServerMessage GoAway(absl::Duration reconnect_after) {
  v1::ServerMessage message;
  *message.mutable_go_away()->mutable_reconnect_after() =
      TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(reconnect_after));
  return message;
}

PolicyApplier AppliedRev3() {
  return PolicyApplier::Restore(std::string(kPolicy), 3, kRev3).value();
}

// Records what the protocol asks for, as a transport would carry it out.
class RecordingTransport final : public ConnectionProtocol::Transport {
 public:
  void Connect() override { ++connects; }
  void Send(v1::AgentMessage message) override { sent.push_back(std::move(message)); }
  void CloseSend() override { send_closed = true; }
  void CancelStream() override { ++cancels; }
  void SetTimer(Timer timer, absl::Time at) override {
    EXPECT_FALSE(timers.contains(timer)) << "a timer is set while armed";
    timers[timer] = at;
  }
  void CancelTimer(Timer timer) override {
    EXPECT_TRUE(timers.contains(timer)) << "a timer is cancelled while not armed";
    timers.erase(timer);
  }
  void Finished(const absl::Status& status) override {
    EXPECT_FALSE(finished.has_value()) << "finished twice";
    finished = status;
  }
  absl::Status SaveSecret(const std::string& agent_secret) override {
    // What was sent before the save: a confirmation must come after it.
    sent_before_save = sent.size();
    if (!save_result.ok()) return save_result;
    saved_secrets.push_back(agent_secret);
    return absl::OkStatus();
  }

  // The messages sent so far, leaving none.
  std::vector<v1::AgentMessage> TakeSent() { return std::exchange(sent, {}); }

  int connects = 0;
  int cancels = 0;
  bool send_closed = false;
  std::vector<v1::AgentMessage> sent;
  std::map<Timer, absl::Time> timers;
  std::optional<absl::Status> finished;
  absl::Status save_result;
  std::vector<std::string> saved_secrets;
  size_t sent_before_save = 0;
};

v1::ServerMessage Credentials(const std::string& secret) {
  v1::ServerMessage message;
  message.mutable_credentials()->set_agent_secret(secret);
  return message;
}

class ConnectionProtocolTest : public ::testing::Test {
 protected:
  // Without jitter, so that every delay is exact.
  static ConnectionProtocolOptions Exact() {
    return {.backoff = {.initial = absl::Milliseconds(500),
                        .max = absl::Seconds(30),
                        .multiplier = 2,
                        .jitter = 0}};
  }

  void Make(PolicyApplier applier = {}, AgentConnectionHooks hooks = {},
            ConnectionProtocolOptions options = Exact()) {
    protocol_ = std::make_unique<ConnectionProtocol>(transport_, clock_, rng_, std::move(applier),
                                                     std::move(hooks), std::move(options));
  }

  // Advances the clock by `by`, firing on the way every timer that comes due, in time order.
  void Advance(absl::Duration by) {
    const absl::Time until = clock_.Now() + by;
    for (int fired = 0; fired < 10'000; ++fired) {
      auto due = transport_.timers.end();
      for (auto it = transport_.timers.begin(); it != transport_.timers.end(); ++it) {
        if (it->second <= until && (due == transport_.timers.end() || it->second < due->second)) {
          due = it;
        }
      }
      if (due == transport_.timers.end()) break;
      const auto [timer, at] = *due;
      transport_.timers.erase(due);
      if (at > clock_.Now()) clock_.Advance(at - clock_.Now());
      protocol_->OnTimer(timer);
    }
    if (until > clock_.Now()) clock_.Advance(until - clock_.Now());
  }

  // The stream the protocol asked for opens and the server welcomes the agent.
  void OpenAndWelcome(absl::Duration heartbeat_interval = absl::ZeroDuration()) {
    protocol_->OnStreamStarted();
    protocol_->OnMessage(Welcome(heartbeat_interval));
  }

  // The delay of the reconnect timer armed now.
  absl::Duration ReconnectDelay() {
    EXPECT_TRUE(transport_.timers.contains(Timer::kReconnect));
    return transport_.timers.at(Timer::kReconnect) - clock_.Now();
  }

  ManualClock clock_{absl::FromUnixSeconds(1'700'000'000)};
  std::mt19937_64 rng_{1};
  RecordingTransport transport_;
  std::unique_ptr<ConnectionProtocol> protocol_;
};

// Hello carries the last applied revision and hash, at the first stream and after a reconnect
// (resume), so that the server can send a DELTA from there.
TEST_F(ConnectionProtocolTest, HelloCarriesLastAppliedRevisionAndHash) {
  Make(AppliedRev3());
  protocol_->Start();
  ASSERT_EQ(transport_.connects, 1);
  protocol_->OnStreamStarted();
  std::vector<v1::AgentMessage> sent = transport_.TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_hello());
  EXPECT_EQ(sent[0].hello().policy(), kPolicy);
  EXPECT_EQ(sent[0].hello().applied_revision(), 3);
  EXPECT_EQ(sent[0].hello().applied_sha256(), ServerHash(kRev3));

  protocol_->OnMessage(Welcome(absl::ZeroDuration()));
  protocol_->OnMessage(Delta(3, 4, kRev3, kRev4));
  protocol_->OnStreamEnded(absl::UnavailableError("connection reset"));
  Advance(ReconnectDelay());
  ASSERT_EQ(transport_.connects, 2);
  transport_.TakeSent();
  protocol_->OnStreamStarted();
  sent = transport_.TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_hello());
  EXPECT_EQ(sent[0].hello().applied_revision(), 4);
  EXPECT_EQ(sent[0].hello().applied_sha256(), ServerHash(kRev4));
}

// A FULL update that applies is acked with its revision and hash, and becomes the policy.
TEST_F(ConnectionProtocolTest, FullUpdateThatAppliesIsAckedWithItsHash) {
  Make();
  protocol_->Start();
  OpenAndWelcome();
  transport_.TakeSent();
  protocol_->OnMessage(Full(4, kRev4));
  const std::vector<v1::AgentMessage> sent = transport_.TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_ack()) << sent[0].DebugString();
  EXPECT_EQ(sent[0].ack().revision(), 4);
  EXPECT_EQ(sent[0].ack().sha256(), ServerHash(kRev4));
  EXPECT_EQ(protocol_->applier().revision(), 4);
}

// A DELTA update that applies is acked with its revision and hash, and becomes the policy.
TEST_F(ConnectionProtocolTest, DeltaUpdateThatAppliesIsAckedWithItsHash) {
  Make(AppliedRev3());
  protocol_->Start();
  OpenAndWelcome();
  transport_.TakeSent();
  protocol_->OnMessage(Delta(3, 5, kRev3, kRev5));
  const std::vector<v1::AgentMessage> sent = transport_.TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_ack()) << sent[0].DebugString();
  EXPECT_EQ(sent[0].ack().revision(), 5);
  EXPECT_EQ(sent[0].ack().sha256(), ServerHash(kRev5));
  EXPECT_EQ(protocol_->applier().revision(), 5);
  EXPECT_EQ(protocol_->applier().sha256(), ServerHash(kRev5));
}

// An update whose result does not hash to its sha256 is nacked, and the last good policy stays.
TEST_F(ConnectionProtocolTest, HashMismatchIsNackedAndLastGoodPolicyKept) {
  Make(AppliedRev3());
  protocol_->Start();
  OpenAndWelcome();
  transport_.TakeSent();
  v1::ServerMessage update = Full(4, kRev4);
  update.mutable_policy_update()->set_sha256(ServerHash(kRev5));
  protocol_->OnMessage(update);
  const std::vector<v1::AgentMessage> sent = transport_.TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_nack()) << sent[0].DebugString();
  EXPECT_EQ(sent[0].nack().revision(), 4);
  EXPECT_FALSE(sent[0].nack().reason().empty());
  EXPECT_EQ(protocol_->applier().revision(), 3);
  EXPECT_EQ(protocol_->applier().sha256(), ServerHash(kRev3));
}

// A DELTA whose patch does not apply to what the agent holds is nacked asking for the FULL
// document, and the last good policy stays.
TEST_F(ConnectionProtocolTest, DeltaThatCannotApplyIsNackedWithNeedsFull) {
  Make(AppliedRev3());
  protocol_->Start();
  OpenAndWelcome();
  transport_.TakeSent();
  v1::ServerMessage update = Delta(3, 4, kRev3, kRev4);
  update.mutable_policy_update()->set_patch_json(
      R"([{"op": "remove", "path": "/no/such/member"}])");
  protocol_->OnMessage(update);
  const std::vector<v1::AgentMessage> sent = transport_.TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_nack()) << sent[0].DebugString();
  EXPECT_EQ(sent[0].nack().revision(), 4);
  EXPECT_TRUE(sent[0].nack().needs_full());
  EXPECT_EQ(protocol_->applier().revision(), 3);
  EXPECT_EQ(protocol_->applier().sha256(), ServerHash(kRev3));
}

// An update the `refuse` hook turns down is nacked without being applied, and on_update sees it
// as refused.
TEST_F(ConnectionProtocolTest, RefusedUpdateIsNackedWithoutApplying) {
  std::vector<bool> refused_seen;
  Make(AppliedRev3(),
       {.refuse = [](const v1::PolicyUpdate&) { return true; },
        .on_update = [&](const UpdateEvent& event) { refused_seen.push_back(event.refused); }});
  protocol_->Start();
  OpenAndWelcome();
  transport_.TakeSent();
  protocol_->OnMessage(Full(4, kRev4));
  const std::vector<v1::AgentMessage> sent = transport_.TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_nack()) << sent[0].DebugString();
  EXPECT_EQ(sent[0].nack().revision(), 4);
  EXPECT_FALSE(sent[0].nack().needs_full());
  EXPECT_EQ(protocol_->applier().revision(), 3);
  EXPECT_EQ(refused_seen, std::vector<bool>{true});
}

// A Heartbeat goes out every heartbeat_interval from the Welcome, and none before it.
TEST_F(ConnectionProtocolTest, HeartbeatsEveryIntervalFromWelcome) {
  Make();
  protocol_->Start();
  protocol_->OnStreamStarted();
  transport_.TakeSent();
  EXPECT_FALSE(transport_.timers.contains(Timer::kHeartbeat));
  protocol_->OnMessage(Welcome(absl::Seconds(10)));

  const auto heartbeats = [&] {
    int count = 0;
    for (const v1::AgentMessage& message : transport_.TakeSent()) count += message.has_heartbeat();
    return count;
  };
  Advance(absl::Seconds(9));
  EXPECT_EQ(heartbeats(), 0);
  Advance(absl::Seconds(1));
  EXPECT_EQ(heartbeats(), 1);
  Advance(absl::Seconds(9));
  EXPECT_EQ(heartbeats(), 0);
  Advance(absl::Seconds(11));
  EXPECT_EQ(heartbeats(), 2);
  EXPECT_EQ(transport_.timers.at(Timer::kHeartbeat), clock_.Now() + absl::Seconds(10));
}

// The StatusReport of the options goes out right after each Welcome.
TEST_F(ConnectionProtocolTest, StatusReportFollowsEachWelcome) {
  v1::StatusReport healthy;
  healthy.set_health(v1::StatusReport::HEALTHY);
  ConnectionProtocolOptions options = Exact();
  options.status_after_connect = healthy;
  Make({}, {}, options);
  protocol_->Start();
  protocol_->OnStreamStarted();
  transport_.TakeSent();
  protocol_->OnMessage(Welcome(absl::ZeroDuration()));
  std::vector<v1::AgentMessage> sent = transport_.TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].status().health(), v1::StatusReport::HEALTHY);
}

// GoAway half-closes the stream and stops the heartbeats; once the stream has ended, the agent
// reconnects after reconnect_after (no jitter here), not after the backoff.
TEST_F(ConnectionProtocolTest, GoAwayReconnectsAfterReconnectAfter) {
  Make();
  protocol_->Start();
  OpenAndWelcome(absl::Seconds(10));
  protocol_->OnMessage(GoAway(absl::Seconds(5)));
  EXPECT_TRUE(transport_.send_closed);
  EXPECT_FALSE(transport_.timers.contains(Timer::kHeartbeat));
  protocol_->OnStreamEnded(absl::OkStatus());
  EXPECT_EQ(ReconnectDelay(), absl::Seconds(5));
  Advance(absl::Milliseconds(4999));
  EXPECT_EQ(transport_.connects, 1);
  Advance(absl::Milliseconds(1));
  EXPECT_EQ(transport_.connects, 2);
}

// With jitter, the GoAway delay is reconnect_after times a factor in [1, 1 + jitter): never
// sooner than the server asked.
TEST_F(ConnectionProtocolTest, GoAwayDelayIsJitteredUpwards) {
  ConnectionProtocolOptions options = Exact();
  options.backoff.jitter = 0.5;
  Make({}, {}, options);
  protocol_->Start();
  for (int stream = 0; stream < 20; ++stream) {
    OpenAndWelcome();
    protocol_->OnMessage(GoAway(absl::Seconds(4)));
    protocol_->OnStreamEnded(absl::OkStatus());
    const absl::Duration delay = ReconnectDelay();
    EXPECT_GE(delay, absl::Seconds(4));
    EXPECT_LT(delay, absl::Seconds(6));
    Advance(delay);
  }
  EXPECT_EQ(transport_.connects, 21);
}

// Streams that break before a Welcome are retried after delays that grow (0.5 s, 1 s, 2 s);
// a stream that got its Welcome starts the backoff over.
TEST_F(ConnectionProtocolTest, BrokenStreamReconnectsWithBackoffResetAfterWelcome) {
  Make();
  protocol_->Start();
  std::vector<absl::Duration> delays;
  for (int attempt = 0; attempt < 3; ++attempt) {
    protocol_->OnStreamEnded(absl::UnavailableError("connection refused"));
    delays.push_back(ReconnectDelay());
    Advance(delays.back());
  }
  EXPECT_EQ(delays, (std::vector<absl::Duration>{absl::Milliseconds(500), absl::Seconds(1),
                                                 absl::Seconds(2)}));
  EXPECT_EQ(transport_.connects, 4);

  OpenAndWelcome();
  protocol_->OnStreamEnded(absl::UnavailableError("connection reset"));
  EXPECT_EQ(ReconnectDelay(), absl::Milliseconds(500));
}

// UNAUTHENTICATED (the server refused the credentials) ends the connection with that status and
// no reconnect: the agent must enroll again.
TEST_F(ConnectionProtocolTest, UnauthenticatedEndsWithoutReconnect) {
  std::vector<absl::StatusCode> disconnects;
  Make({}, {.on_disconnected = [&](const absl::Status& status) {
         disconnects.push_back(status.code());
       }});
  protocol_->Start();
  protocol_->OnStreamStarted();
  protocol_->OnStreamEnded(absl::UnauthenticatedError("unknown agent"));
  ASSERT_TRUE(transport_.finished.has_value());
  EXPECT_EQ(*transport_.finished, absl::UnauthenticatedError("unknown agent"));
  EXPECT_TRUE(protocol_->finished());
  EXPECT_TRUE(transport_.timers.empty());
  Advance(absl::Hours(1));
  EXPECT_EQ(transport_.connects, 1);
  EXPECT_EQ(disconnects, std::vector<absl::StatusCode>{absl::StatusCode::kUnauthenticated});
}

// Stop between streams cancels the reconnect timer and finishes at once, OK.
TEST_F(ConnectionProtocolTest, StopCancelsReconnectTimer) {
  Make();
  protocol_->Start();
  protocol_->OnStreamEnded(absl::UnavailableError("connection refused"));
  ASSERT_TRUE(transport_.timers.contains(Timer::kReconnect));
  protocol_->Stop();
  EXPECT_TRUE(transport_.timers.empty());
  ASSERT_TRUE(transport_.finished.has_value());
  EXPECT_OK(*transport_.finished);
  Advance(absl::Hours(1));
  EXPECT_EQ(transport_.connects, 1);
}

// Stop on an open stream cancels the heartbeat timer and the stream; when the stream has ended
// (CANCELLED) the connection finishes OK without reconnecting.
TEST_F(ConnectionProtocolTest, StopCancelsHeartbeatAndStream) {
  Make();
  protocol_->Start();
  OpenAndWelcome(absl::Seconds(10));
  ASSERT_TRUE(transport_.timers.contains(Timer::kHeartbeat));
  protocol_->Stop();
  EXPECT_TRUE(transport_.timers.empty());
  EXPECT_EQ(transport_.cancels, 1);
  EXPECT_FALSE(transport_.finished.has_value());
  protocol_->OnStreamEnded(absl::CancelledError("stopped"));
  ASSERT_TRUE(transport_.finished.has_value());
  EXPECT_OK(*transport_.finished);
  EXPECT_TRUE(transport_.timers.empty());
  EXPECT_EQ(transport_.connects, 1);
}

// Stop before Start finishes at once; Start then opens nothing.
TEST_F(ConnectionProtocolTest, StopBeforeStartFinishesWithoutConnecting) {
  Make();
  protocol_->Stop();
  ASSERT_TRUE(transport_.finished.has_value());
  EXPECT_OK(*transport_.finished);
  protocol_->Start();
  EXPECT_EQ(transport_.connects, 0);
}

// A new secret from the server is saved through the transport first, then confirmed with that
// secret; the hook hears it was saved.
TEST_F(ConnectionProtocolTest, CredentialsAreSavedThenConfirmed) {
  std::vector<absl::Status> heard;
  Make({}, {.on_credentials = [&](const absl::Status& saved) { heard.push_back(saved); }});
  protocol_->Start();
  OpenAndWelcome();
  transport_.TakeSent();
  protocol_->OnMessage(Credentials("fagt_0123456789ab_new"));
  EXPECT_EQ(transport_.saved_secrets, std::vector<std::string>{"fagt_0123456789ab_new"});
  EXPECT_EQ(transport_.sent_before_save, 0u);
  const std::vector<v1::AgentMessage> sent = transport_.TakeSent();
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_TRUE(sent[0].has_credentials_confirmed());
  EXPECT_EQ(sent[0].credentials_confirmed().agent_secret(), "fagt_0123456789ab_new");
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_OK(heard[0]);
}

// A secret that cannot be saved is not confirmed (the agent keeps the old one, which fleetd
// still accepts), and the stream goes on.
TEST_F(ConnectionProtocolTest, CredentialsThatCannotBeSavedAreNotConfirmed) {
  std::vector<absl::Status> heard;
  Make({}, {.on_credentials = [&](const absl::Status& saved) { heard.push_back(saved); }});
  transport_.save_result = absl::PermissionDeniedError("read-only state dir");
  protocol_->Start();
  OpenAndWelcome();
  transport_.TakeSent();
  protocol_->OnMessage(Credentials("fagt_0123456789ab_new"));
  EXPECT_TRUE(transport_.TakeSent().empty());
  ASSERT_EQ(heard.size(), 1u);
  EXPECT_EQ(heard[0].code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(transport_.finished.has_value());
  protocol_->OnMessage(Full(4, kRev4));
  EXPECT_EQ(transport_.TakeSent().size(), 1u);  // the Ack
}

v1::ServerMessage Action(const std::string& id, const std::string& type = "restart") {
  v1::ServerMessage message;
  message.mutable_action()->set_id(id);
  message.mutable_action()->set_type(type);
  message.mutable_action()->set_arguments_json("{}");
  return message;
}

v1::ServerMessage Cancel(const std::string& id) {
  v1::ServerMessage message;
  message.mutable_action_cancel()->set_id(id);
  return message;
}

v1::ServerMessage Query(const std::string& id, absl::Time deadline) {
  v1::ServerMessage message;
  message.mutable_query()->set_id(id);
  message.mutable_query()->set_query("select 1");
  *message.mutable_query()->mutable_deadline() =
      TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(deadline));
  return message;
}

v1::ActionStatus Status(const std::string& id, v1::ActionStatus::State state, int progress = 0) {
  v1::ActionStatus status;
  status.set_id(id);
  status.set_state(state);
  status.set_progress_percent(progress);
  return status;
}

// Records what the protocol hands it, answering as told.
class FakeActions final : public ActionHandler {
 public:
  v1::ActionStatus OnAction(const v1::AgentAction& action) override {
    started.push_back(action.id());
    return first;
  }
  std::optional<v1::ActionStatus> OnCancel(const std::string& id) override {
    cancelled.push_back(id);
    return on_cancel;
  }

  v1::ActionStatus first = Status("", v1::ActionStatus::ACCEPTED);
  std::optional<v1::ActionStatus> on_cancel;
  std::vector<std::string> started;
  std::vector<std::string> cancelled;
};

class FakeQueries final : public QueryHandler {
 public:
  std::optional<v1::QueryResult> OnQuery(const v1::AgentQuery& query) override {
    asked.push_back(query.id());
    return answer;
  }

  std::optional<v1::QueryResult> answer;
  std::vector<std::string> asked;
};

class ConnectionProtocolActionsTest : public ConnectionProtocolTest {
 protected:
  void MakeWith(ConnectionProtocolOptions options, AgentConnectionHooks hooks = {}) {
    options.actions = &actions_;
    options.queries = &queries_;
    Make({}, std::move(hooks), std::move(options));
    protocol_->Start();
    OpenAndWelcome();
    transport_.TakeSent();
  }
  void MakeStreaming() { MakeWith(Exact()); }

  // The stream ends (the server went away) and the next one opens and is welcomed.
  void Reconnect() {
    protocol_->OnStreamEnded(absl::UnavailableError("connection reset"));
    Advance(ReconnectDelay());
    OpenAndWelcome();
  }

  // The one message sent since the last look; fails the test when there is not exactly one.
  v1::AgentMessage OneSent() {
    std::vector<v1::AgentMessage> sent = transport_.TakeSent();
    EXPECT_EQ(sent.size(), 1u);
    return sent.empty() ? v1::AgentMessage() : sent.front();
  }

  FakeActions actions_;
  FakeQueries queries_;
};

// A new action goes to the handler once, and its first status goes out with the action's id.
TEST_F(ConnectionProtocolActionsTest, NewActionGoesToTheHandlerAndItsFirstStatusIsSent) {
  MakeStreaming();
  protocol_->OnMessage(Action("a1"));
  EXPECT_EQ(actions_.started, std::vector<std::string>{"a1"});
  const v1::AgentMessage sent = OneSent();
  ASSERT_TRUE(sent.has_action_status()) << sent.DebugString();
  EXPECT_EQ(sent.action_status().id(), "a1");
  EXPECT_EQ(sent.action_status().state(), v1::ActionStatus::ACCEPTED);
}

// An action sent again after a reconnect is not run again: it is answered with where it is (the
// last progress reported), and the hook hears of the repeat.
TEST_F(ConnectionProtocolActionsTest, RepeatAfterReconnectIsAnsweredWithItsStateNotRunAgain) {
  int repeats = 0;
  MakeWith(Exact(), {.on_repeated_action = [&](const v1::AgentAction&) { ++repeats; }});
  protocol_->OnMessage(Action("a1"));
  ASSERT_OK(protocol_->ReportAction(Status("a1", v1::ActionStatus::RUNNING, 40)));
  transport_.TakeSent();
  Reconnect();
  transport_.TakeSent();  // Hello
  protocol_->OnMessage(Action("a1"));
  EXPECT_EQ(actions_.started, std::vector<std::string>{"a1"});
  const v1::AgentMessage sent = OneSent();
  ASSERT_TRUE(sent.has_action_status()) << sent.DebugString();
  EXPECT_EQ(sent.action_status().state(), v1::ActionStatus::RUNNING);
  EXPECT_EQ(sent.action_status().progress_percent(), 40);
  EXPECT_EQ(repeats, 1);
}

// A status reported between streams is recorded, not sent (nothing goes out without a stream),
// and it answers the repeat on the next stream.
TEST_F(ConnectionProtocolActionsTest, StatusBetweenStreamsIsRecordedAndAnswersTheRepeat) {
  MakeStreaming();
  protocol_->OnMessage(Action("a1"));
  transport_.TakeSent();
  protocol_->OnStreamEnded(absl::UnavailableError("connection reset"));
  ASSERT_OK(protocol_->ReportAction(Status("a1", v1::ActionStatus::SUCCEEDED, 100)));
  EXPECT_TRUE(transport_.TakeSent().empty());
  Advance(ReconnectDelay());
  OpenAndWelcome();
  transport_.TakeSent();
  protocol_->OnMessage(Action("a1"));
  const v1::AgentMessage sent = OneSent();
  EXPECT_EQ(sent.action_status().state(), v1::ActionStatus::SUCCEEDED);
  EXPECT_EQ(actions_.started.size(), 1u);
}

// No status ever goes out for an action that was not received.
TEST_F(ConnectionProtocolActionsTest, StatusOfAnActionNotReceivedIsRefusedAndNotSent) {
  MakeStreaming();
  EXPECT_EQ(protocol_->ReportAction(Status("zz", v1::ActionStatus::SUCCEEDED)).code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(transport_.TakeSent().empty());
}

// A final state never changes: a later report is refused and not sent.
TEST_F(ConnectionProtocolActionsTest, FinalStateStays) {
  MakeStreaming();
  protocol_->OnMessage(Action("a1"));
  ASSERT_OK(protocol_->ReportAction(Status("a1", v1::ActionStatus::SUCCEEDED, 100)));
  transport_.TakeSent();
  EXPECT_EQ(protocol_->ReportAction(Status("a1", v1::ActionStatus::FAILED)).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(transport_.TakeSent().empty());
  EXPECT_EQ(protocol_->actions().Find("a1")->state(), v1::ActionStatus::SUCCEEDED);
}

// Statuses fleetd would end the stream for are refused naming the field.
TEST_F(ConnectionProtocolActionsTest, StatusOutOfBoundsIsRefusedNamingTheField) {
  MakeStreaming();
  protocol_->OnMessage(Action("a1"));
  transport_.TakeSent();
  const absl::Status progress =
      protocol_->ReportAction(Status("a1", v1::ActionStatus::RUNNING, 101));
  EXPECT_EQ(progress.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(progress.message().find("progress_percent"), std::string::npos);
  const absl::Status state =
      protocol_->ReportAction(Status("a1", v1::ActionStatus::STATE_UNSPECIFIED));
  EXPECT_NE(state.message().find("state"), std::string::npos);
  v1::ActionStatus big = Status("a1", v1::ActionStatus::SUCCEEDED);
  big.set_output(std::string(64 * 1024 + 1, 'x'));
  const absl::Status output = protocol_->ReportAction(big);
  EXPECT_NE(output.message().find("output"), std::string::npos);
  EXPECT_TRUE(transport_.TakeSent().empty());
}

// A handler's first status without a valid state goes out as REJECTED saying why, rather than
// ending the stream.
TEST_F(ConnectionProtocolActionsTest, InvalidFirstStatusIsSentAsRejected) {
  MakeStreaming();
  actions_.first = Status("", v1::ActionStatus::STATE_UNSPECIFIED);
  protocol_->OnMessage(Action("a1"));
  const v1::AgentMessage sent = OneSent();
  EXPECT_EQ(sent.action_status().id(), "a1");
  EXPECT_EQ(sent.action_status().state(), v1::ActionStatus::REJECTED);
  EXPECT_NE(sent.action_status().message().find("state"), std::string::npos);
}

// Without a handler, every action is rejected.
TEST_F(ConnectionProtocolActionsTest, WithoutHandlerActionsAreRejected) {
  Make();
  protocol_->Start();
  OpenAndWelcome();
  transport_.TakeSent();
  protocol_->OnMessage(Action("a1"));
  const v1::AgentMessage sent = OneSent();
  EXPECT_EQ(sent.action_status().state(), v1::ActionStatus::REJECTED);
  EXPECT_FALSE(sent.action_status().message().empty());
}

// A cancel of a running action goes to the handler; what it stopped with goes out and is final.
TEST_F(ConnectionProtocolActionsTest, CancelOfRunningActionGoesToTheHandler) {
  MakeStreaming();
  protocol_->OnMessage(Action("a1"));
  transport_.TakeSent();
  actions_.on_cancel = Status("", v1::ActionStatus::CANCELLED);
  protocol_->OnMessage(Cancel("a1"));
  EXPECT_EQ(actions_.cancelled, std::vector<std::string>{"a1"});
  const v1::AgentMessage sent = OneSent();
  EXPECT_EQ(sent.action_status().id(), "a1");
  EXPECT_EQ(sent.action_status().state(), v1::ActionStatus::CANCELLED);
  EXPECT_EQ(protocol_->ReportAction(Status("a1", v1::ActionStatus::SUCCEEDED)).code(),
            absl::StatusCode::kFailedPrecondition);
}

// A handler that cannot stop any more says nothing at the cancel; its final state follows.
TEST_F(ConnectionProtocolActionsTest, CancelTheHandlerRefusesSendsNothing) {
  MakeStreaming();
  protocol_->OnMessage(Action("a1"));
  transport_.TakeSent();
  protocol_->OnMessage(Cancel("a1"));
  EXPECT_TRUE(transport_.TakeSent().empty());
  ASSERT_OK(protocol_->ReportAction(Status("a1", v1::ActionStatus::SUCCEEDED, 100)));
  EXPECT_EQ(OneSent().action_status().state(), v1::ActionStatus::SUCCEEDED);
}

// A cancel of a finished action is answered with its final state; one of an action never
// received is ignored; neither reaches the handler.
TEST_F(ConnectionProtocolActionsTest, CancelOfFinishedOrUnknownActionDoesNotReachTheHandler) {
  MakeStreaming();
  protocol_->OnMessage(Action("a1"));
  ASSERT_OK(protocol_->ReportAction(Status("a1", v1::ActionStatus::FAILED)));
  transport_.TakeSent();
  protocol_->OnMessage(Cancel("a1"));
  EXPECT_EQ(OneSent().action_status().state(), v1::ActionStatus::FAILED);
  protocol_->OnMessage(Cancel("zz"));
  EXPECT_TRUE(transport_.TakeSent().empty());
  EXPECT_TRUE(actions_.cancelled.empty());
}

// Finished actions are remembered up to the bound; the oldest is forgotten beyond it (and would
// run again if fleetd ever sent it again), running ones are all kept.
TEST_F(ConnectionProtocolActionsTest, FinishedActionsAreRememberedUpToTheBound) {
  ConnectionProtocolOptions options = Exact();
  options.finished_actions_kept = 2;
  MakeWith(std::move(options));
  for (const std::string id : {"a1", "a2", "a3"}) {
    protocol_->OnMessage(Action(id));
    ASSERT_OK(protocol_->ReportAction(Status(id, v1::ActionStatus::SUCCEEDED)));
  }
  protocol_->OnMessage(Action("a4"));
  EXPECT_EQ(protocol_->actions().finished(), 2u);
  EXPECT_EQ(protocol_->actions().running(), 1u);
  EXPECT_EQ(protocol_->actions().Find("a1"), nullptr);
  ASSERT_NE(protocol_->actions().Find("a3"), nullptr);
  protocol_->OnMessage(Action("a3"));
  protocol_->OnMessage(Action("a1"));
  EXPECT_EQ(actions_.started, (std::vector<std::string>{"a1", "a2", "a3", "a4", "a1"}));
}

// Hello carries agent_version when set, and not when empty (as enrolled).
TEST_F(ConnectionProtocolActionsTest, HelloCarriesAgentVersionWhenSet) {
  ConnectionProtocolOptions options = Exact();
  options.agent_version = "1.2.3";
  Make({}, {}, std::move(options));
  protocol_->Start();
  protocol_->OnStreamStarted();
  EXPECT_EQ(OneSent().hello().agent_version(), "1.2.3");

  transport_ = {};
  Make();
  protocol_->Start();
  protocol_->OnStreamStarted();
  EXPECT_TRUE(OneSent().hello().agent_version().empty());
}

// Restart (after an upgrade) half-closes the stream after what is queued, reconnects at once
// when it has ended, and the new Hello names the new version; the action's record survives.
TEST_F(ConnectionProtocolActionsTest, RestartReconnectsAtOnceWithTheNewVersion) {
  MakeWith(Exact());
  protocol_->OnMessage(Action("u1", "upgrade"));
  ASSERT_OK(protocol_->ReportAction(Status("u1", v1::ActionStatus::RUNNING, 90)));
  transport_.TakeSent();
  protocol_->Restart("2.0.0");
  EXPECT_TRUE(transport_.send_closed);
  protocol_->OnStreamEnded(absl::OkStatus());
  EXPECT_EQ(ReconnectDelay(), absl::ZeroDuration());
  Advance(absl::ZeroDuration());
  EXPECT_EQ(transport_.connects, 2);
  protocol_->OnStreamStarted();
  EXPECT_EQ(OneSent().hello().agent_version(), "2.0.0");
  protocol_->OnMessage(Welcome(absl::ZeroDuration()));
  ASSERT_OK(protocol_->ReportAction(Status("u1", v1::ActionStatus::SUCCEEDED, 100)));
  EXPECT_EQ(OneSent().action_status().state(), v1::ActionStatus::SUCCEEDED);
}

// A query's answer at once goes out as its last result, with its id.
TEST_F(ConnectionProtocolActionsTest, QueryAnsweredAtOnce) {
  MakeStreaming();
  queries_.answer.emplace();
  queries_.answer->set_rows_json(R"([{"n": 1}])");
  protocol_->OnMessage(Query("q1", clock_.Now() + absl::Seconds(30)));
  EXPECT_EQ(queries_.asked, std::vector<std::string>{"q1"});
  const v1::AgentMessage sent = OneSent();
  ASSERT_TRUE(sent.has_query_result()) << sent.DebugString();
  EXPECT_EQ(sent.query_result().id(), "q1");
  EXPECT_TRUE(sent.query_result().last());
  EXPECT_EQ(sent.query_result().rows_json(), R"([{"n": 1}])");
  EXPECT_EQ(protocol_->open_queries(), 0u);
}

// Results that follow go out until the last; after it the query is closed.
TEST_F(ConnectionProtocolActionsTest, QueryResultsInSeveralMessagesUntilTheLast) {
  MakeStreaming();
  protocol_->OnMessage(Query("q1", clock_.Now() + absl::Seconds(30)));
  EXPECT_TRUE(transport_.TakeSent().empty());
  v1::QueryResult part;
  part.set_id("q1");
  part.set_rows_json(R"([{"n": 1}])");
  ASSERT_OK(protocol_->SendQueryResult(part));
  part.set_last(true);
  ASSERT_OK(protocol_->SendQueryResult(part));
  EXPECT_EQ(transport_.TakeSent().size(), 2u);
  EXPECT_EQ(protocol_->SendQueryResult(part).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(transport_.TakeSent().empty());
}

// A query belongs to its stream: after the stream ended, its results are refused; a query never
// received too.
TEST_F(ConnectionProtocolActionsTest, QueryResultsOnlyOnTheStreamItCameOn) {
  MakeStreaming();
  protocol_->OnMessage(Query("q1", clock_.Now() + absl::Seconds(30)));
  Reconnect();
  transport_.TakeSent();
  v1::QueryResult result;
  result.set_id("q1");
  result.set_last(true);
  EXPECT_EQ(protocol_->SendQueryResult(result).code(), absl::StatusCode::kNotFound);
  result.set_id("zz");
  EXPECT_EQ(protocol_->SendQueryResult(result).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(transport_.TakeSent().empty());
}

// A result after the query's deadline is refused (fleetd would drop it) and the query closed.
TEST_F(ConnectionProtocolActionsTest, QueryResultAfterDeadlineIsRefused) {
  MakeStreaming();
  protocol_->OnMessage(Query("q1", clock_.Now() + absl::Seconds(1)));
  Advance(absl::Seconds(2));
  v1::QueryResult result;
  result.set_id("q1");
  result.set_last(true);
  EXPECT_EQ(protocol_->SendQueryResult(result).code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(protocol_->open_queries(), 0u);
  EXPECT_TRUE(transport_.TakeSent().empty());
}

// Rows fleetd would end the stream for are refused naming rows_json; a handler's answer at once
// with such rows goes out as an error.
TEST_F(ConnectionProtocolActionsTest, BadRowsAreRefusedNamingTheField) {
  MakeStreaming();
  protocol_->OnMessage(Query("q1", clock_.Now() + absl::Seconds(30)));
  v1::QueryResult result;
  result.set_id("q1");
  for (const std::string& bad :
       std::vector<std::string>{"{}", "[1]", "not json", std::string(1024 * 1024 + 1, ' ')}) {
    result.set_rows_json(bad);
    const absl::Status sent = protocol_->SendQueryResult(result);
    EXPECT_EQ(sent.code(), absl::StatusCode::kInvalidArgument) << bad.substr(0, 10);
    EXPECT_NE(sent.message().find("rows_json"), std::string::npos);
  }
  EXPECT_TRUE(transport_.TakeSent().empty());
  queries_.answer.emplace();
  queries_.answer->set_rows_json("[1]");
  protocol_->OnMessage(Query("q2", clock_.Now() + absl::Seconds(30)));
  const v1::AgentMessage answered = OneSent();
  EXPECT_EQ(answered.query_result().id(), "q2");
  EXPECT_TRUE(answered.query_result().last());
  EXPECT_NE(answered.query_result().error().find("rows_json"), std::string::npos);
  EXPECT_TRUE(answered.query_result().rows_json().empty());
}

// Without a handler, or beyond the queries open at once, a query is answered with an error.
TEST_F(ConnectionProtocolActionsTest, QueryWithoutHandlerOrBeyondTheBoundGetsAnError) {
  ConnectionProtocolOptions options = Exact();
  options.max_open_queries = 1;
  MakeWith(std::move(options));
  protocol_->OnMessage(Query("q1", clock_.Now() + absl::Seconds(30)));
  protocol_->OnMessage(Query("q2", clock_.Now() + absl::Seconds(30)));
  EXPECT_EQ(queries_.asked, std::vector<std::string>{"q1"});
  v1::AgentMessage sent = OneSent();
  EXPECT_EQ(sent.query_result().id(), "q2");
  EXPECT_TRUE(sent.query_result().last());
  EXPECT_FALSE(sent.query_result().error().empty());
  // Once q1's deadline has passed, it no longer holds the place.
  Advance(absl::Seconds(31));
  protocol_->OnMessage(Query("q4", clock_.Now() + absl::Seconds(30)));
  EXPECT_EQ(queries_.asked, (std::vector<std::string>{"q1", "q4"}));
  EXPECT_TRUE(transport_.TakeSent().empty());

  transport_ = {};
  Make();
  protocol_->Start();
  OpenAndWelcome();
  transport_.TakeSent();
  protocol_->OnMessage(Query("q3", clock_.Now() + absl::Seconds(30)));
  sent = OneSent();
  EXPECT_EQ(sent.query_result().id(), "q3");
  EXPECT_FALSE(sent.query_result().error().empty());
}

}  // namespace
}  // namespace fleet::agent
