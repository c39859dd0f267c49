#include "server/agent/agent_protocol.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "google/protobuf/util/time_util.h"
#include "server/agent/agent_message_check.h"
#include "server/model/secret_token.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr absl::Duration kReconnectAfter = absl::Seconds(1);
constexpr absl::Duration kFirstHold = absl::Minutes(1);
constexpr absl::Duration kLongestHold = absl::Hours(1);

google::protobuf::Duration ToProto(absl::Duration duration) {
  return TimeUtil::MicrosecondsToDuration(absl::ToInt64Microseconds(duration));
}

}  // namespace

absl::Duration HoldAfterFailures(int32_t failures) {
  absl::Duration hold = kFirstHold;
  for (int32_t i = kHoldAfterFailures; i < failures && hold < kLongestHold; ++i) hold *= 2;
  return std::min(hold, kLongestHold);
}

AgentProtocol::AgentProtocol(const AgentProtocolDeps& deps, std::string agent_id,
                             std::string policy, StreamCredentials credentials)
    : deps_(deps), agent_id_(std::move(agent_id)), policy_(std::move(policy)) {
  absl::MutexLock lock(&mu_);
  rotation_requested_ = credentials.rotation_requested;
  secret_issued_at_ = credentials.secret_issued_at;
  if (!credentials.pending_sha256.empty()) {
    rotation_ = Rotation::kPromote;
    new_sha256_ = std::move(credentials.pending_sha256);
  }
}

AgentProtocol::ReadOutcome AgentProtocol::OnMessage(const v1::AgentMessage& message) {
  if (message.has_action_status() || message.has_query_result()) return OnReport(message);
  bool read_next = false;
  {
    absl::MutexLock lock(&mu_);
    read_next = AfterMessage(Handle(message));
  }
  return {.read_next = read_next, .action = Advance()};
}

AgentProtocol::ReadOutcome AgentProtocol::OnReport(const v1::AgentMessage& message) {
  bool hello = false;
  {
    absl::MutexLock lock(&mu_);
    hello = hello_;
  }
  // Outside the lock: a QueryResult's rows may be 1 MiB of JSON to check, and a kick of this
  // stream must not wait for that.
  absl::Status error = hello ? CheckAgentMessage(message)
                             : absl::InvalidArgumentError("the stream must open with Hello");
  if (error.ok()) {
    if (message.has_action_status()) {
      const v1::ActionStatus& status = message.action_status();
      const absl::Status taken =
          deps_.actions == nullptr
              ? absl::NotFoundError("no actions here")
              : deps_.actions->ActionStatusReported(agent_id_, KeptActionStatus(status));
      if (taken.code() == absl::StatusCode::kNotFound) {
        error = absl::InvalidArgumentError(
            absl::StrCat("ActionStatus.id ", QuoteForError(status.id()),
                         " is no action for this agent: answer only the actions fleetd sent"));
      } else {
        error = taken;
      }
    } else if (deps_.queries != nullptr) {
      deps_.queries->QueryResultReported(agent_id_, KeptQueryResult(message.query_result()));
    }
  }
  bool read_next = false;
  {
    absl::MutexLock lock(&mu_);
    read_next = AfterMessage(error);
  }
  return {.read_next = read_next, .action = Advance()};
}

AgentProtocol::ReadOutcome AgentProtocol::OnUnreadableMessage() {
  bool read_next = false;
  {
    absl::MutexLock lock(&mu_);
    read_next = AfterMessage(absl::InvalidArgumentError(
        "the AgentMessage does not parse: it is not a serialized fleet.v1.AgentMessage, or a "
        "string in it is not valid UTF-8 (proto3 strings must be)"));
  }
  return {.read_next = read_next, .action = Advance()};
}

bool AgentProtocol::AfterMessage(const absl::Status& error) {
  // The agent broke the protocol: the stream ends once the write in flight lands.
  if (!error.ok()) EndWith(error);
  return !finish_.has_value();
}

AgentProtocol::Action AgentProtocol::OnAgentClosed() {
  {
    absl::MutexLock lock(&mu_);
    EndWith(absl::OkStatus());
  }
  return Advance();
}

AgentProtocol::Action AgentProtocol::OnPolicyChanged() { return Advance(); }

AgentProtocol::Action AgentProtocol::OnReassigned(const std::string& policy) {
  {
    absl::MutexLock lock(&mu_);
    if (policy_ == policy) return {};
    policy_ = policy;
    // Whatever was in flight belongs to the old policy: the next update is the new one's, and
    // the agent's answer to the old one is dropped when it comes.
    if (unacked_ != 0) abandoned_ = unacked_;
    unacked_ = 0;
    refused_ = 0;
    // The claim and the failures were of the old policy.
    claim_pending_ = false;
    failed_revision_ = 0;
    failures_ = 0;
    ++generation_;
  }
  return Advance();
}

AgentProtocol::Action AgentProtocol::OnUnenrolled() {
  {
    absl::MutexLock lock(&mu_);
    unenrolled_ = true;
    Close(absl::UnauthenticatedError("the agent was unenrolled"));
  }
  return Advance();
}

AgentProtocol::Action AgentProtocol::OnReplaced() {
  {
    absl::MutexLock lock(&mu_);
    Close(absl::AbortedError("a newer stream of this agent replaced this one"));
  }
  return Advance();
}

AgentProtocol::Action AgentProtocol::OnShutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (Ending()) return {};
    // The agent closes its side when it hears this, so answers already on their way still land;
    // the server's shutdown deadline ends the streams of agents that do not.
    v1::ServerMessage message;
    message.mutable_go_away()->set_reason("fleetd is shutting down");
    *message.mutable_go_away()->mutable_reconnect_after() = ToProto(kReconnectAfter);
    Queue(message);
    going_away_ = true;
  }
  return Advance();
}

AgentProtocol::Action AgentProtocol::OnRotationRequested() {
  {
    absl::MutexLock lock(&mu_);
    rotation_requested_ = true;
    if (rotation_ == Rotation::kPromoting) requested_while_promoting_ = true;
  }
  return Advance();
}

AgentProtocol::Action AgentProtocol::OnCredentialsCommitted(const absl::Status& status,
                                                            bool rotation_requested) {
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = deps_.clock.Now();
    switch (rotation_) {
      case Rotation::kStarting:
        if (!status.ok()) {
          rotation_ = Rotation::kIdle;
          new_secret_.clear();
          new_sha256_.clear();
          retry_after_ = now + kCredentialRetryDelay;
          break;
        }
        rotation_ = Rotation::kSent;
        // Durable and accepted by Connect now: only now may the agent hold it. A stream that is
        // ending sends nothing more; the agent's next stream gets a fresh secret.
        if (!Ending()) {
          v1::ServerMessage message;
          message.mutable_credentials()->set_agent_secret(new_secret_);
          Queue(message);
        }
        break;
      case Rotation::kPromoting: {
        const bool requested_meanwhile = std::exchange(requested_while_promoting_, false);
        if (status.ok()) {
          rotation_ = Rotation::kIdle;
          // A request newer than the pending secret asks for one more rotation.
          rotation_requested_ = rotation_requested || requested_meanwhile;
          secret_issued_at_ = now;
          new_sha256_.clear();
        } else if (status.code() == absl::StatusCode::kFailedPrecondition ||
                   status.code() == absl::StatusCode::kNotFound) {
          // Promoted already (by another stream of the agent), replaced by another rotation, or
          // the agent is gone: nothing to promote, and the record says what is still asked.
          rotation_ = Rotation::kIdle;
          rotation_requested_ = rotation_requested || requested_meanwhile;
          new_sha256_.clear();
        } else {
          rotation_ = Rotation::kPromote;
          requested_while_promoting_ = requested_meanwhile;
          retry_after_ = now + kCredentialRetryDelay;
        }
        break;
      }
      default:
        break;
    }
  }
  return Advance();
}

std::optional<CredentialChange> AgentProtocol::NextCredentialCommit() {
  // A promotion writes nothing to the stream: it goes ahead even while the stream ends (the
  // agent may close its side right after confirming).
  const bool promote = rotation_ == Rotation::kPromote;
  const bool may_start = rotation_ == Rotation::kIdle && hello_ && !finished_ && !Ending() &&
                         (rotation_requested_ || deps_.credential_max_age > absl::ZeroDuration());
  // Every stream event comes through here: most leave without reading the clock.
  if (!promote && !may_start) return std::nullopt;
  const absl::Time now = deps_.clock.Now();
  if (now < retry_after_) return std::nullopt;
  if (promote) {
    rotation_ = Rotation::kPromoting;
    return CredentialChange{.kind = CredentialChange::Kind::kPromote,
                            .agent_id = agent_id_,
                            .secret_sha256 = new_sha256_};
  }
  const bool too_old = deps_.credential_max_age > absl::ZeroDuration() &&
                       now - secret_issued_at_ >= deps_.credential_max_age;
  if (!rotation_requested_ && !too_old) return std::nullopt;
  MintedToken minted = MintTokenFor(kAgentSecretKind, agent_id_);
  rotation_ = Rotation::kStarting;
  new_secret_ = std::move(minted.token);
  new_sha256_ = std::move(minted.secret_sha256);
  return CredentialChange{.kind = CredentialChange::Kind::kStartRotation,
                          .agent_id = agent_id_,
                          .secret_sha256 = new_sha256_};
}

absl::Status AgentProtocol::HandleConfirmation(const v1::CredentialsConfirmed& confirmed) {
  if (rotation_ != Rotation::kSent) {
    return absl::InvalidArgumentError(
        "CredentialsConfirmed, but no Credentials await confirmation on this stream");
  }
  absl::StatusOr<ParsedToken> parsed = ParseToken(confirmed.agent_secret(), kAgentSecretKind);
  if (!parsed.ok() || parsed->id != agent_id_ || !SecretMatches(parsed->secret, new_sha256_)) {
    return absl::InvalidArgumentError(
        "CredentialsConfirmed.agent_secret is not the secret of the last Credentials");
  }
  rotation_ = Rotation::kPromote;
  new_secret_.clear();
  return absl::OkStatus();
}

AgentProtocol::Action AgentProtocol::OnWriteDone(bool ok) {
  MailPtr delivered;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    delivered = std::move(mail_in_flight_);
    if (!ok) delivered = nullptr;
    if (!ok) {
      // The stream broke: nothing more can be written, only finished (at once: no write is in
      // flight, so nothing queued goes first).
      control_.clear();
      EndWith(absl::UnavailableError("the stream broke"));
    }
  }
  if (delivered != nullptr && delivered->sender != nullptr) {
    delivered->sender->Delivered(agent_id_, *delivered);
  }
  return Advance();
}

void AgentProtocol::OnEnded(bool current) {
  absl::MutexLock lock(&mu_);
  if (unenrolled_) {
    deps_.state.Forget(agent_id_);
    return;
  }
  // An update the agent never answered failed, unless the server ended the stream by going away.
  const bool failed = unacked_ != 0 && !going_away_;
  if (!current && !failed) return;
  deps_.state.Update(agent_id_, [&](record::AgentStatusRecord& state) {
    mu_.AssertHeld();  // run by Update on this thread, under mu_
    // Even without a Hello: the stream this one replaced left the agent online.
    if (current) state.set_status(v1::AGENT_STATUS_OFFLINE);
    // A replaced stream counts its failure only while the state is still of its policy.
    if (!failed || (!current && state.policy() != policy_)) return;
    // A replaced stream may end after its successor delivered the same update: no failure then.
    if (state.policy() == policy_ && state.applied_revision() >= unacked_) return;
    CountFailure(state, unacked_);
    // The agent never said no, but cannot take it either: it counts as refused.
    if (state.failures() >= kHoldAfterFailures && state.nacked_revision() <= unacked_) {
      state.set_nacked_revision(unacked_);
      state.set_nack_reason(absl::StrCat("delivery failed ", state.failures(),
                                         " times in a row: the stream ended with the update "
                                         "unanswered"));
    }
  });
}

bool AgentProtocol::Ending() const { return finish_.has_value() || going_away_; }

void AgentProtocol::EndWith(const absl::Status& status) {
  if (!finish_.has_value()) finish_ = status;
}

void AgentProtocol::Close(const absl::Status& status) {
  if (!Ending()) finish_ = status;
}

void AgentProtocol::Queue(const v1::ServerMessage& message) {
  control_.push_back(std::make_shared<const std::string>(message.SerializeAsString()));
}

AgentProtocol::Action AgentProtocol::Advance() {
  std::optional<CredentialChange> credentials;
  {
    absl::MutexLock lock(&mu_);
    credentials = NextCredentialCommit();
  }
  Action action = AdvanceStream();
  action.credentials = std::move(credentials);
  return action;
}

AgentProtocol::Action AgentProtocol::AdvanceStream() {
  std::string policy;
  AgentPosition position;
  int64_t generation = 0;
  {
    absl::MutexLock lock(&mu_);
    Action control = NextControl();
    if (control.kind != Action::Kind::kNone) return control;
    if (!WantsUpdate()) return NextMail();
    policy = policy_;
    position = position_;
    generation = generation_;
  }
  absl::StatusOr<PreparedUpdatePtr> update = deps_.updates.UpdateFor(policy, position);
  absl::MutexLock lock(&mu_);
  // A deleted policy, or content not ready yet: the next kick asks again.
  if (!update.ok()) return NextMail();
  // Busy, ending, or the update went stale: whoever changed things asked again.
  if (!WantsUpdate() || generation != generation_) return NextMail();
  if (claim_pending_) {
    // See update_source.h: only these answers prove the agent holds what it said.
    SettleClaim(*update == nullptr || (*update)->from_revision == position_.revision);
  }
  if (*update == nullptr) return NextMail();  // up to date
  const v1::PolicyUpdate& next = (*update)->update;
  if (next.target_revision() == refused_ && !position_.needs_full) return NextMail();
  // A FULL document asked for after a failed DELTA is other bytes: it goes once, as ever.
  if (!position_.needs_full && Held(next.target_revision())) return NextMail();
  unacked_ = next.target_revision();
  unacked_sha256_ = next.sha256();
  unacked_full_ = next.kind() == v1::PolicyUpdate::FULL;
  unacked_committed_ = absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(next.commit_time()));
  ++generation_;
  if (deps_.metrics != nullptr) {
    deps_.metrics->UpdateSent(unacked_full_, (*update)->serialized_message.size());
  }
  // The bytes every stream shares, kept alive by the update that holds them.
  const std::string* bytes = &(*update)->serialized_message;
  return Write(std::shared_ptr<const std::string>(*std::move(update), bytes));
}

AgentProtocol::Action AgentProtocol::NextControl() {
  if (finished_ || writing_) return {};
  if (!control_.empty()) {
    std::shared_ptr<const std::string> bytes = std::move(control_.front());
    control_.pop_front();
    return Write(std::move(bytes));
  }
  if (!finish_.has_value()) return {};
  finished_ = true;
  return {.kind = Action::Kind::kFinish, .status = *finish_};
}

AgentProtocol::Action AgentProtocol::NextMail() {
  if (deps_.mailbox == nullptr || !hello_ || writing_ || finished_ || Ending()) return {};
  std::optional<AgentMailbox::Posted> next = deps_.mailbox->Next(agent_id_, mail_cursor_);
  if (!next.has_value()) return {};
  mail_cursor_ = next->seq;
  mail_in_flight_ = next->mail;
  // The bytes every recipient shares.
  return Write(next->mail->bytes);
}

bool AgentProtocol::WantsUpdate() const {
  return hello_ && unacked_ == 0 && !writing_ && !finished_ && !Ending();
}

AgentProtocol::Action AgentProtocol::Write(std::shared_ptr<const std::string> bytes) {
  writing_ = true;
  return {.kind = Action::Kind::kWrite, .bytes = std::move(bytes)};
}

absl::Status AgentProtocol::Handle(const v1::AgentMessage& message) {
  if (message.has_hello() == hello_) {
    return absl::InvalidArgumentError(hello_ ? "Hello may only open the stream"
                                             : "the stream must open with Hello");
  }
  if (absl::Status checked = CheckAgentMessage(message); !checked.ok()) return checked;
  switch (message.message_case()) {
    case v1::AgentMessage::kHello:
      HandleHello(message.hello());
      return absl::OkStatus();
    case v1::AgentMessage::kAck:
      return HandleAnswer(message.ack().revision(), true, message.ack().sha256(), "", false);
    case v1::AgentMessage::kNack:
      return HandleAnswer(message.nack().revision(), false, "", message.nack().reason(),
                          message.nack().needs_full());
    case v1::AgentMessage::kStatus: {
      const v1::StatusReport& report = message.status();
      deps_.state.Update(
          agent_id_, [&](record::AgentStatusRecord& state) { KeepStatusReport(report, state); });
      return absl::OkStatus();
    }
    case v1::AgentMessage::kHeartbeat:
      deps_.state.Update(agent_id_, [](record::AgentStatusRecord&) {});
      return absl::OkStatus();
    case v1::AgentMessage::kCredentialsConfirmed:
      return HandleConfirmation(message.credentials_confirmed());
    default:
      return absl::InvalidArgumentError("empty AgentMessage");
  }
}

void AgentProtocol::HandleHello(const v1::Hello& hello) {
  hello_ = true;
  position_ = AgentPosition{.policy = hello.policy(),
                            .revision = hello.applied_revision(),
                            .sha256 = hello.applied_sha256()};
  const bool on_policy = hello.policy() == policy_;
  claim_pending_ = on_policy && hello.applied_revision() != 0;
  ++generation_;
  v1::ServerMessage welcome;
  *welcome.mutable_welcome()->mutable_heartbeat_interval() = ToProto(deps_.heartbeat_interval);
  welcome.mutable_welcome()->set_policy(policy_);
  Queue(welcome);
  deps_.state.Claim(agent_id_, [&](record::AgentStatusRecord& state) {
    mu_.AssertHeld();  // run by Claim on this thread, under mu_
    state.set_status(v1::AGENT_STATUS_ONLINE);
    if (!hello.agent_version().empty()) state.set_agent_version(hello.agent_version());
    OnPolicy(state);
    // Until the claim is confirmed, only what the server recorded itself counts. A refusal
    // stays: only an Ack clears it.
    if (!claim_pending_ || state.applied_revision() != hello.applied_revision()) {
      state.set_applied_revision(0);
    }
    MirrorFailures(state);
  });
}

void AgentProtocol::SettleClaim(bool confirmed) {
  claim_pending_ = false;
  const int64_t revision = position_.revision;
  if (!confirmed) {
    // Nothing usable: what follows is computed as for an agent that holds nothing. The update
    // just asked for stays good (FULL is what a position of nothing gets).
    position_ = AgentPosition{};
  }
  deps_.state.Update(agent_id_, [&](record::AgentStatusRecord& state) {
    mu_.AssertHeld();  // run by Update on this thread, under mu_
    OnPolicy(state);
    state.set_applied_revision(confirmed ? revision : 0);
    if (!confirmed) return;
    // As good as an Ack of that revision.
    if (state.nacked_revision() <= revision) {
      state.set_nacked_revision(0);
      state.clear_nack_reason();
    }
    if (state.failed_revision() <= revision) {
      state.set_failed_revision(0);
      state.set_failures(0);
      state.set_last_failure_unix_micros(0);
    }
    MirrorFailures(state);
  });
}

void AgentProtocol::OnPolicy(record::AgentStatusRecord& state) const {
  if (state.policy() == policy_) return;
  state.set_policy(policy_);
  state.set_applied_revision(0);
  state.set_nacked_revision(0);
  state.clear_nack_reason();
  state.set_failed_revision(0);
  state.set_failures(0);
  state.set_last_failure_unix_micros(0);
}

void AgentProtocol::CountFailure(record::AgentStatusRecord& state, int64_t revision) {
  OnPolicy(state);
  if (state.failed_revision() != revision) {
    state.set_failed_revision(revision);
    state.set_failures(0);
  }
  state.set_failures(state.failures() + 1);
  state.set_last_failure_unix_micros(absl::ToUnixMicros(deps_.clock.Now()));
  MirrorFailures(state);
}

void AgentProtocol::MirrorFailures(const record::AgentStatusRecord& state) {
  failed_revision_ = state.failed_revision();
  failures_ = state.failures();
  last_failure_ = absl::FromUnixMicros(state.last_failure_unix_micros());
}

bool AgentProtocol::Held(int64_t revision) {
  return revision == failed_revision_ && failures_ >= kHoldAfterFailures &&
         deps_.clock.Now() < last_failure_ + HoldAfterFailures(failures_);
}

absl::Status AgentProtocol::HandleAnswer(int64_t revision, bool acked, const std::string& sha256,
                                         const std::string& reason, bool needs_full) {
  if (abandoned_ != 0 && revision == abandoned_ && revision != unacked_) {
    abandoned_ = 0;
    return absl::OkStatus();
  }
  if (unacked_ == 0 || revision != unacked_) {
    return absl::InvalidArgumentError(absl::StrCat(
        acked ? "Ack" : "Nack", " for revision ", revision, ", which is not the update in flight"));
  }
  unacked_ = 0;
  ++generation_;
  const bool applied = acked && sha256 == unacked_sha256_;
  if (deps_.metrics != nullptr) {
    deps_.metrics->Answered(acked, applied && unacked_committed_ != absl::UnixEpoch()
                                       ? std::optional(deps_.clock.Now() - unacked_committed_)
                                       : std::nullopt);
  }
  if (applied) {
    position_ = AgentPosition{.policy = policy_, .revision = revision, .sha256 = sha256};
    claim_pending_ = false;
    refused_ = 0;
    deps_.state.Update(agent_id_, [&](record::AgentStatusRecord& state) {
      mu_.AssertHeld();  // run by Update on this thread, under mu_
      OnPolicy(state);
      state.set_applied_revision(revision);
      state.set_nacked_revision(0);
      state.clear_nack_reason();
      state.set_failed_revision(0);
      state.set_failures(0);
      state.set_last_failure_unix_micros(0);
      MirrorFailures(state);
    });
    return absl::OkStatus();
  }
  // A Nack, or an Ack of other content than sent: the agent keeps what it had. It gets the FULL
  // document if it asks, but once only: a refused FULL is not sent again for this revision.
  position_.needs_full = (needs_full || acked) && !unacked_full_;
  refused_ = revision;
  const std::string why =
      acked ? "acked content with another hash" : SanitizeUtf8(reason, kMaxAgentTextBytes);
  deps_.state.Update(agent_id_, [&](record::AgentStatusRecord& state) {
    mu_.AssertHeld();  // run by Update on this thread, under mu_
    CountFailure(state, revision);
    state.set_nacked_revision(revision);
    state.set_nack_reason(why);
  });
  return absl::OkStatus();
}

}  // namespace fleet::server
