// Credential rotation on the Connect stream (agent.proto, "Credential rotation"): AgentProtocol
// driven without a network, its credential commits made by a real CredentialWriter on the
// MemoryStore, and Connect's authentication played by a real AgentDirectory following it, so
// that each test shows which secrets work after each step (a crash before or after the agent
// persisted its new secret, a confirmation out of protocol, the maximum age).
#include <memory>
#include <optional>
#include <string>

#include "absl/synchronization/notification.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "server/agent/agent_protocol.h"
#include "server/control/agent_directory.h"
#include "server/control/credential_writer.h"
#include "server/model/agent_credentials.h"
#include "server/model/record_io.h"
#include "server/model/secret_token.h"
#include "server/model/store_layout.h"
#include "tests/server/agent/agent_protocol_test_env.h"
#include "tests/testing/status_matchers.h"

namespace fleet::server {
namespace {

v1::AgentMessage Confirm(const std::string& secret) {
  v1::AgentMessage message;
  message.mutable_credentials_confirmed()->set_agent_secret(secret);
  return message;
}

class RotationTest : public AgentProtocolTest {
 protected:
  void SetUp() override {
    old_secret_ = MintTokenFor(kAgentSecretKind, kAgent).token;
    record::AgentRecord record;
    record.mutable_agent()->set_id(kAgent);
    record.mutable_agent()->set_policy("p");
    *record.mutable_agent()->mutable_enrolled_at() =
        google::protobuf::util::TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(clock_.Now()));
    record.set_secret_sha256(Sha256(ParseToken(old_secret_, kAgentSecretKind)->secret));
    ASSERT_OK(store_->Txn(
        {.success = {storage::Op::Put(layout::AgentKey(kAgent), record.SerializeAsString())}}));
    ASSERT_OK(directory_.Start());
  }

  // An operator asks for a rotation, as RotateAgentCredentials writes it.
  void RequestIt() {
    ASSERT_OK(UpdateRecord<record::AgentRecord>(*store_, layout::AgentKey(kAgent), "agent",
                                                [&](record::AgentRecord& record) {
                                                  RequestRotation(record, clock_.Now());
                                                  return absl::OkStatus();
                                                }));
    ASSERT_TRUE(directory_.WaitForRevision(store_->CurrentRevision(), absl::Seconds(10)));
  }

  // Connect with `secret`: what the directory says of it (UNAUTHENTICATED when it refuses).
  absl::StatusOr<AuthenticatedAgent> Authenticate(const std::string& secret) {
    absl::StatusOr<ParsedToken> parsed = ParseToken(secret, kAgentSecretKind);
    if (!parsed.ok()) return parsed.status();
    return directory_.Authenticate(kAgent, parsed->secret);
  }

  // A stream opened with `secret`, as AgentService starts it.
  std::unique_ptr<AgentProtocol> Connect(const std::string& secret) {
    absl::StatusOr<AuthenticatedAgent> agent = Authenticate(secret);
    EXPECT_OK(agent);
    if (!agent.ok()) return nullptr;
    return std::make_unique<AgentProtocol>(
        Deps(), kAgent, agent->policy,
        StreamCredentials{.pending_sha256 = agent->pending_sha256,
                          .rotation_requested = agent->rotation_requested,
                          .secret_issued_at = agent->secret_issued_at});
  }

  // Hello at the latest revision: the Welcome lands; returns the credential commit asked for.
  std::optional<CredentialChange> Hello(AgentProtocol& stream) {
    AgentProtocol::ReadOutcome outcome = stream.OnMessage(fleet::server::Hello("p", 1));
    EXPECT_TRUE(outcome.read_next);
    EXPECT_TRUE(Written(outcome.action).has_welcome());
    ExpectNothing(stream.OnWriteDone(true));
    return outcome.action.credentials;
  }

  // Commits `change` as AgentSession does, and waits for the writer's report.
  absl::Status Commit(const std::optional<CredentialChange>& change) {
    EXPECT_TRUE(change.has_value());
    if (!change.has_value()) return absl::InternalError("no change");
    absl::Notification done;
    absl::Status result;
    writer_.Commit(*change, [&](const absl::Status& status, bool rotation_requested) {
      result = status;
      still_requested_ = rotation_requested;
      done.Notify();
    });
    EXPECT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
    return result;
  }

  // Starts a rotation on `stream` (its commit asked for in `change`): returns the secret sent.
  std::string Deliver(AgentProtocol& stream, const std::optional<CredentialChange>& change) {
    EXPECT_EQ(change->kind, CredentialChange::Kind::kStartRotation);
    EXPECT_OK(Commit(change));
    const v1::ServerMessage sent = Written(stream.OnCredentialsCommitted(absl::OkStatus()));
    EXPECT_TRUE(sent.has_credentials()) << sent.ShortDebugString();
    ExpectNothing(stream.OnWriteDone(true));
    return sent.credentials().agent_secret();
  }

  record::AgentRecord Stored() {
    absl::StatusOr<std::optional<StoredRecord<record::AgentRecord>>> stored =
        ReadRecord<record::AgentRecord>(*store_, layout::AgentKey(kAgent));
    EXPECT_TRUE(stored.ok() && stored->has_value());
    return stored.ok() && stored->has_value() ? (*stored)->record : record::AgentRecord();
  }

  AgentDirectory directory_{*store_};
  CredentialWriter writer_{*store_, clock_, directory_};
  std::string old_secret_;
  // What the last commit's report said of the record.
  bool still_requested_ = false;
};

// The whole rotation: the pending secret is committed before it is sent (both secrets work
// then), the agent's confirmation promotes it, and the old secret stops working.
TEST_F(RotationTest, RotatesOnTheOpenStream) {
  RequestIt();
  std::unique_ptr<AgentProtocol> stream = Connect(old_secret_);
  std::optional<CredentialChange> start = Hello(*stream);
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->agent_id, kAgent);
  // Nothing is sent before the commit lands.
  ExpectNothing(stream->OnPolicyChanged());

  const std::string new_secret = Deliver(*stream, start);
  EXPECT_NE(new_secret, old_secret_);
  EXPECT_EQ(Sha256(ParseToken(new_secret, kAgentSecretKind)->secret), start->secret_sha256);
  EXPECT_OK(Authenticate(old_secret_));
  EXPECT_OK(Authenticate(new_secret));
  EXPECT_TRUE(Stored().agent().has_rotation_pending_since());

  AgentProtocol::ReadOutcome confirmed = stream->OnMessage(Confirm(new_secret));
  EXPECT_TRUE(confirmed.read_next);
  ExpectNothing(confirmed.action);
  ASSERT_TRUE(confirmed.action.credentials.has_value());
  EXPECT_EQ(confirmed.action.credentials->kind, CredentialChange::Kind::kPromote);
  ASSERT_OK(Commit(confirmed.action.credentials));
  ExpectNothing(stream->OnCredentialsCommitted(absl::OkStatus()));

  EXPECT_EQ(Authenticate(old_secret_).status().code(), absl::StatusCode::kUnauthenticated);
  ASSERT_OK_AND_ASSIGN(AuthenticatedAgent agent, Authenticate(new_secret));
  EXPECT_FALSE(agent.rotation_requested);
  EXPECT_EQ(agent.pending_sha256, "");
  const record::AgentRecord stored = Stored();
  EXPECT_EQ(stored.agent().secret_rotations(), 1);
  EXPECT_FALSE(stored.agent().has_rotation_pending_since());
  // Settled: a heartbeat starts no other rotation.
  EXPECT_FALSE(stream->OnMessage(Heartbeat()).action.credentials.has_value());
}

// An agent that lost the stream before persisting its new secret reconnects with the old one,
// which still works, and gets a fresh secret; once that is confirmed, neither the old nor the
// unsaved one works.
TEST_F(RotationTest, CrashBeforePersisting) {
  RequestIt();
  std::unique_ptr<AgentProtocol> first = Connect(old_secret_);
  const std::string lost = Deliver(*first, Hello(*first));
  ExpectFinish(first->OnAgentClosed(), absl::StatusCode::kOk);
  first->OnEnded(true);

  std::unique_ptr<AgentProtocol> second = Connect(old_secret_);
  const std::string fresh = Deliver(*second, Hello(*second));
  EXPECT_NE(fresh, lost);
  EXPECT_EQ(Authenticate(lost).status().code(), absl::StatusCode::kUnauthenticated);
  AgentProtocol::ReadOutcome confirmed = second->OnMessage(Confirm(fresh));
  ASSERT_OK(Commit(confirmed.action.credentials));
  ExpectNothing(second->OnCredentialsCommitted(absl::OkStatus()));
  EXPECT_EQ(Authenticate(old_secret_).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_OK(Authenticate(fresh));
}

// An agent that persisted its new secret but never confirmed reconnects with it: that proves it
// holds it, and it is promoted without another rotation.
TEST_F(RotationTest, CrashAfterPersisting) {
  RequestIt();
  std::unique_ptr<AgentProtocol> first = Connect(old_secret_);
  const std::string saved = Deliver(*first, Hello(*first));
  ExpectFinish(first->OnAgentClosed(), absl::StatusCode::kOk);
  first->OnEnded(true);

  std::unique_ptr<AgentProtocol> second = Connect(saved);
  std::optional<CredentialChange> promote = Hello(*second);
  ASSERT_TRUE(promote.has_value());
  EXPECT_EQ(promote->kind, CredentialChange::Kind::kPromote);
  ASSERT_OK(Commit(promote));
  ExpectNothing(second->OnCredentialsCommitted(absl::OkStatus()));
  EXPECT_EQ(Authenticate(old_secret_).status().code(), absl::StatusCode::kUnauthenticated);
  ASSERT_OK_AND_ASSIGN(AuthenticatedAgent agent, Authenticate(saved));
  EXPECT_FALSE(agent.rotation_requested);
  EXPECT_FALSE(second->OnMessage(Heartbeat()).action.credentials.has_value());
  EXPECT_EQ(Stored().agent().secret_rotations(), 1);
}

// An agent that confirmed and reconnected with its new secret before the promotion landed: the
// second stream's promotion finds it done, and no further rotation follows.
TEST_F(RotationTest, PromotedByTheStreamBefore) {
  RequestIt();
  std::unique_ptr<AgentProtocol> first = Connect(old_secret_);
  const std::string saved = Deliver(*first, Hello(*first));
  std::optional<CredentialChange> first_promotion =
      first->OnMessage(Confirm(saved)).action.credentials;
  std::unique_ptr<AgentProtocol> second = Connect(saved);
  std::optional<CredentialChange> second_promotion = Hello(*second);
  ASSERT_OK(Commit(first_promotion));
  ExpectNothing(first->OnCredentialsCommitted(absl::OkStatus(), still_requested_));
  EXPECT_EQ(Commit(second_promotion).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(still_requested_);
  AgentProtocol::Action after =
      second->OnCredentialsCommitted(absl::FailedPreconditionError("promoted"), still_requested_);
  EXPECT_FALSE(after.credentials.has_value());
  EXPECT_FALSE(second->OnMessage(Heartbeat()).action.credentials.has_value());
  EXPECT_EQ(Stored().agent().secret_rotations(), 1);
  EXPECT_OK(Authenticate(saved));
}

// A confirmation with nothing awaiting one ends the stream with INVALID_ARGUMENT, and so does one
// with another secret than sent.
TEST_F(RotationTest, ConfirmationOutOfProtocol) {
  std::unique_ptr<AgentProtocol> idle = Connect(old_secret_);
  EXPECT_FALSE(Hello(*idle).has_value());
  AgentProtocol::ReadOutcome early = idle->OnMessage(Confirm(old_secret_));
  EXPECT_FALSE(early.read_next);
  ExpectFinish(early.action, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(early.action.status.message(),
            "CredentialsConfirmed, but no Credentials await confirmation on this stream");

  RequestIt();
  std::unique_ptr<AgentProtocol> stream = Connect(old_secret_);
  Deliver(*stream, Hello(*stream));
  AgentProtocol::ReadOutcome wrong =
      stream->OnMessage(Confirm(MintTokenFor(kAgentSecretKind, kAgent).token));
  EXPECT_FALSE(wrong.read_next);
  ExpectFinish(wrong.action, absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(wrong.action.credentials.has_value());
  // Past the bound of agent_message_check.h.
  std::unique_ptr<AgentProtocol> other = Connect(old_secret_);
  Hello(*other);
  AgentProtocol::ReadOutcome huge = other->OnMessage(Confirm(std::string(129, 'x')));
  ExpectFinish(huge.action, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(huge.action.status.message(),
            "CredentialsConfirmed.agent_secret is 129 bytes; at most 128");
}

// A secret reaching credential_max_age is rotated on the next event of the stream (a
// heartbeat), by the injected clock; a younger one is not.
TEST_F(RotationTest, MaxAgeStartsARotation) {
  AgentProtocolDeps deps = Deps();
  deps.credential_max_age = absl::Hours(24);
  AgentProtocol stream(deps, kAgent, "p",
                       StreamCredentials{.secret_issued_at = clock_.Now() - absl::Hours(23)});
  EXPECT_FALSE(Hello(stream).has_value());
  EXPECT_FALSE(stream.OnMessage(Heartbeat()).action.credentials.has_value());
  clock_.Advance(absl::Hours(1));
  std::optional<CredentialChange> start = stream.OnMessage(Heartbeat()).action.credentials;
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(start->kind, CredentialChange::Kind::kStartRotation);
}

// A request told to an open stream starts the rotation at once; a commit that fails sends
// nothing and is tried again only after kCredentialRetryDelay.
TEST_F(RotationTest, RequestOnAnOpenStreamAndRetryAfterFailure) {
  std::unique_ptr<AgentProtocol> stream = Connect(old_secret_);
  EXPECT_FALSE(Hello(*stream).has_value());
  AgentProtocol::Action requested = stream->OnRotationRequested();
  ASSERT_TRUE(requested.credentials.has_value());
  ExpectNothing(requested);
  ExpectNothing(stream->OnCredentialsCommitted(absl::UnavailableError("store down")));
  EXPECT_FALSE(stream->OnMessage(Heartbeat()).action.credentials.has_value());
  clock_.Advance(kCredentialRetryDelay);
  std::optional<CredentialChange> retry = stream->OnMessage(Heartbeat()).action.credentials;
  ASSERT_TRUE(retry.has_value());
  EXPECT_NE(retry->secret_sha256, requested.credentials->secret_sha256);
}

// A request made while a rotation is pending asks for one more: once the promotion lands, the
// stream starts the next rotation by itself.
TEST_F(RotationTest, RequestDuringAPendingRotationRotatesAgain) {
  RequestIt();
  std::unique_ptr<AgentProtocol> stream = Connect(old_secret_);
  const std::string first = Deliver(*stream, Hello(*stream));
  clock_.Advance(absl::Seconds(1));
  RequestIt();
  ExpectNothing(stream->OnRotationRequested());  // one rotation at a time
  AgentProtocol::ReadOutcome confirmed = stream->OnMessage(Confirm(first));
  ASSERT_OK(Commit(confirmed.action.credentials));
  EXPECT_TRUE(still_requested_);
  AgentProtocol::Action next = stream->OnCredentialsCommitted(absl::OkStatus(), still_requested_);
  ASSERT_TRUE(next.credentials.has_value());
  const std::string second = Deliver(*stream, next.credentials);
  AgentProtocol::ReadOutcome again = stream->OnMessage(Confirm(second));
  ASSERT_OK(Commit(again.action.credentials));
  EXPECT_FALSE(still_requested_);
  ExpectNothing(stream->OnCredentialsCommitted(absl::OkStatus(), still_requested_));
  EXPECT_EQ(Stored().agent().secret_rotations(), 2);
  EXPECT_OK(Authenticate(second));
  EXPECT_EQ(Authenticate(first).status().code(), absl::StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace fleet::server
