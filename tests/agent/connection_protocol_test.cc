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

}  // namespace
}  // namespace fleet::agent
