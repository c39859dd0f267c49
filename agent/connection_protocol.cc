#include "agent/connection_protocol.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace fleet::agent {
namespace {

using google::protobuf::util::TimeUtil;

absl::Duration ToDuration(const google::protobuf::Duration& duration) {
  return absl::Microseconds(TimeUtil::DurationToMicroseconds(duration));
}

absl::Time ToTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(timestamp));
}

// agent.proto, QueryResult.rows_json.
constexpr size_t kMaxRowsBytes = 1024 * 1024;

// OK when fleetd takes `result`'s rows: empty, or a JSON array of objects of at most 1 MiB.
absl::Status CheckRows(const v1::QueryResult& result) {
  const std::string& rows = result.rows_json();
  if (rows.empty()) return absl::OkStatus();
  if (rows.size() > kMaxRowsBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("QueryResult.rows_json: ", rows.size(),
                     " bytes, over the limit of 1,048,576: send the rows in several results"));
  }
  const nlohmann::json parsed = nlohmann::json::parse(rows, nullptr, /*allow_exceptions=*/false);
  const bool objects =
      parsed.is_array() &&
      std::all_of(parsed.begin(), parsed.end(), [](const auto& row) { return row.is_object(); });
  if (!objects) {
    return absl::InvalidArgumentError("QueryResult.rows_json: not a JSON array of objects");
  }
  return absl::OkStatus();
}

v1::QueryResult QueryError(std::string error) {
  v1::QueryResult result;
  result.set_error(std::move(error));
  result.set_last(true);
  return result;
}

v1::ActionStatus Rejected(std::string message) {
  v1::ActionStatus status;
  status.set_state(v1::ActionStatus::REJECTED);
  status.set_message(std::move(message));
  return status;
}

}  // namespace

ConnectionProtocol::ConnectionProtocol(Transport& transport, Clock& clock, absl::BitGenRef rng,
                                       PolicyApplier applier, AgentConnectionHooks hooks,
                                       ConnectionProtocolOptions options)
    : transport_(transport),
      clock_(clock),
      rng_(rng),
      hooks_(std::move(hooks)),
      options_(std::move(options)),
      applier_(std::move(applier)),
      backoff_(options_.backoff, rng_),
      agent_version_(options_.agent_version),
      actions_(options_.finished_actions_kept) {}

void ConnectionProtocol::Start() {
  if (state_ != State::kIdle) return;
  state_ = State::kConnecting;
  transport_.Connect();
}

void ConnectionProtocol::Stop() {
  if (stopping_ || state_ == State::kFinished) return;
  stopping_ = true;
  switch (state_) {
    case State::kIdle:
      Finish(absl::OkStatus());
      break;
    case State::kConnecting:
    case State::kStreaming:
      // OnStreamEnded finishes.
      CancelHeartbeat();
      transport_.CancelStream();
      break;
    case State::kWaiting:
      transport_.CancelTimer(Timer::kReconnect);
      Finish(absl::OkStatus());
      break;
    case State::kFinished:
      break;
  }
}

void ConnectionProtocol::OnStreamStarted() {
  if (state_ != State::kConnecting) return;
  state_ = State::kStreaming;
  v1::AgentMessage hello;
  *hello.mutable_hello() = applier_.HelloMessage();
  hello.mutable_hello()->set_agent_version(agent_version_);
  Send(std::move(hello));
}

void ConnectionProtocol::OnMessage(const v1::ServerMessage& message) {
  if (state_ != State::kStreaming) return;
  switch (message.message_case()) {
    case v1::ServerMessage::kWelcome:
      OnWelcome(message.welcome());
      break;
    case v1::ServerMessage::kPolicyUpdate:
      OnPolicyUpdate(message.policy_update());
      break;
    case v1::ServerMessage::kGoAway:
      OnGoAway(message.go_away());
      break;
    case v1::ServerMessage::kCredentials:
      OnCredentials(message.credentials());
      break;
    case v1::ServerMessage::kAction:
      OnAction(message.action());
      break;
    case v1::ServerMessage::kActionCancel:
      OnActionCancel(message.action_cancel());
      break;
    case v1::ServerMessage::kQuery:
      OnQuery(message.query());
      break;
    case v1::ServerMessage::MESSAGE_NOT_SET:
      break;
  }
}

void ConnectionProtocol::OnWelcome(const v1::Welcome& welcome) {
  // The server took the agent: the next failure is a new one, not one more of a series.
  backoff_.Reset();
  const absl::Duration interval = ToDuration(welcome.heartbeat_interval());
  if (interval > absl::ZeroDuration()) {
    heartbeat_interval_ = interval;
    if (!heartbeat_armed_ && !send_closed_) ArmHeartbeat();
  }
  if (options_.status_after_connect.has_value()) {
    v1::AgentMessage status;
    *status.mutable_status() = *options_.status_after_connect;
    Send(std::move(status));
  }
  if (hooks_.on_connected) hooks_.on_connected(welcome);
}

void ConnectionProtocol::OnPolicyUpdate(const v1::PolicyUpdate& update) {
  const absl::Time received_at = clock_.Now();
  const bool refused = hooks_.refuse && hooks_.refuse(update);
  ApplyOutcome outcome;
  if (refused) {
    outcome.revision = update.target_revision();
    outcome.nack_reason = "refused by the simulated agent";
  } else {
    outcome = applier_.Apply(update, options_.apply_cache);
  }
  const absl::Time applied_at = clock_.Now();
  Send(outcome.Reply());
  if (hooks_.on_update) {
    hooks_.on_update(UpdateEvent{.update = update,
                                 .outcome = outcome,
                                 .refused = refused,
                                 .received_at = received_at,
                                 .applied_at = applied_at});
  }
}

void ConnectionProtocol::OnGoAway(const v1::GoAway& go_away) {
  go_away_after_ = ToDuration(go_away.reconnect_after());
  // Answers already queued still go out; the half-close then lets the server end the stream.
  CancelHeartbeat();
  if (send_closed_) return;
  send_closed_ = true;
  transport_.CloseSend();
}

void ConnectionProtocol::OnCredentials(const v1::Credentials& credentials) {
  // Saved first: a confirmed secret the agent could lose in a crash would lock it out.
  const absl::Status saved = transport_.SaveSecret(credentials.agent_secret());
  if (hooks_.on_credentials) hooks_.on_credentials(saved);
  if (!saved.ok()) return;
  v1::AgentMessage confirmed;
  confirmed.mutable_credentials_confirmed()->set_agent_secret(credentials.agent_secret());
  Send(std::move(confirmed));
}

void ConnectionProtocol::OnAction(const v1::AgentAction& action) {
  if (const v1::ActionStatus* known = actions_.Find(action.id()); known != nullptr) {
    // Sent again after a reconnect (or fleetd restarted before it stored the last report): run
    // once, answer with where it is.
    SendActionStatus(*known);
    if (hooks_.on_repeated_action) hooks_.on_repeated_action(action);
    return;
  }
  RecordHandlerStatus(action.id(),
                      options_.actions == nullptr ? Rejected("this agent does not run actions")
                                                  : options_.actions->OnAction(action),
                      /*first=*/true);
}

void ConnectionProtocol::OnActionCancel(const v1::ActionCancel& cancel) {
  const v1::ActionStatus* known = actions_.Find(cancel.id());
  // Never received (or long forgotten): there is nothing to stop, and nothing may be said of it.
  if (known == nullptr) return;
  if (IsFinalActionState(known->state())) {
    SendActionStatus(*known);
    return;
  }
  if (options_.actions == nullptr) return;
  std::optional<v1::ActionStatus> stopped = options_.actions->OnCancel(cancel.id());
  if (stopped.has_value()) RecordHandlerStatus(cancel.id(), *std::move(stopped), /*first=*/false);
}

void ConnectionProtocol::RecordHandlerStatus(const std::string& id, v1::ActionStatus status,
                                             bool first) {
  status.set_id(id);
  if (absl::Status valid = CheckActionStatus(status); !valid.ok()) {
    // A handler's mistake must not end the stream (fleetd would, on a status out of bounds).
    v1::ActionStatus replaced;
    replaced.set_id(id);
    replaced.set_state(first ? v1::ActionStatus::REJECTED : v1::ActionStatus::FAILED);
    replaced.set_message(std::string(valid.message()));
    status = std::move(replaced);
  }
  if (first) {
    actions_.Add(status);
  } else if (!actions_.Update(status).ok()) {
    return;
  }
  SendActionStatus(status);
}

absl::Status ConnectionProtocol::ReportAction(v1::ActionStatus status) {
  if (absl::Status valid = CheckActionStatus(status); !valid.ok()) return valid;
  if (absl::Status updated = actions_.Update(status); !updated.ok()) return updated;
  // Between streams it is only recorded: fleetd sends the action again on the next stream (it
  // has no final state yet) and the record answers it.
  SendActionStatus(status);
  return absl::OkStatus();
}

void ConnectionProtocol::SendActionStatus(const v1::ActionStatus& status) {
  v1::AgentMessage message;
  *message.mutable_action_status() = status;
  Send(std::move(message));
}

void ConnectionProtocol::OnQuery(const v1::AgentQuery& query) {
  // fleetd never sends a query twice on one stream; a repeat is not run twice.
  if (open_queries_.contains(query.id())) return;
  const absl::Time deadline =
      query.has_deadline() ? ToTime(query.deadline()) : absl::InfiniteFuture();
  if (open_queries_.size() >= options_.max_open_queries) {
    // Queries a handler never finished answering hold no place once their deadline is past.
    const absl::Time now = clock_.Now();
    absl::erase_if(open_queries_, [now](const auto& open) { return open.second < now; });
  }
  if (options_.queries == nullptr || open_queries_.size() >= options_.max_open_queries) {
    v1::QueryResult refused = QueryError(
        options_.queries == nullptr ? "this agent does not run live queries"
                                    : absl::StrCat("this agent runs at most ",
                                                   options_.max_open_queries, " queries at once"));
    refused.set_id(query.id());
    v1::AgentMessage message;
    *message.mutable_query_result() = std::move(refused);
    Send(std::move(message));
    return;
  }
  open_queries_.emplace(query.id(), deadline);
  std::optional<v1::QueryResult> answer = options_.queries->OnQuery(query);
  if (!answer.has_value()) return;
  answer->set_last(true);
  if (absl::Status rows = CheckRows(*answer); !rows.ok()) {
    answer = QueryError(std::string(rows.message()));
  }
  SendResult(query.id(), *std::move(answer));
}

absl::Status ConnectionProtocol::SendQueryResult(v1::QueryResult result) {
  const auto open = open_queries_.find(result.id());
  if (open == open_queries_.end()) {
    return absl::NotFoundError(
        absl::StrCat("query ", result.id(), " is not open on this agent's stream"));
  }
  if (clock_.Now() > open->second) {
    open_queries_.erase(open);
    return absl::DeadlineExceededError(
        absl::StrCat("query ", result.id(), " is past its deadline: fleetd drops its results"));
  }
  if (absl::Status rows = CheckRows(result); !rows.ok()) return rows;
  const std::string id = result.id();
  SendResult(id, std::move(result));
  return absl::OkStatus();
}

void ConnectionProtocol::SendResult(const std::string& id, v1::QueryResult result) {
  result.set_id(id);
  if (result.last()) open_queries_.erase(id);
  v1::AgentMessage message;
  *message.mutable_query_result() = std::move(result);
  Send(std::move(message));
}

void ConnectionProtocol::Restart(std::string agent_version) {
  if (stopping_ || state_ == State::kFinished) return;
  agent_version_ = std::move(agent_version);
  // Connecting or between streams: the next Hello carries the new version anyway.
  if (state_ != State::kStreaming) return;
  // As a GoAway with no delay: what is queued still goes out, then the next stream opens at once.
  go_away_after_ = absl::ZeroDuration();
  CancelHeartbeat();
  if (send_closed_) return;
  send_closed_ = true;
  transport_.CloseSend();
}

void ConnectionProtocol::OnStreamEnded(const absl::Status& status) {
  if (state_ != State::kConnecting && state_ != State::kStreaming) return;
  CancelHeartbeat();
  // Queries belong to their stream: fleetd drops results sent on another.
  open_queries_.clear();
  const std::optional<absl::Duration> go_away_after = go_away_after_;
  heartbeat_interval_ = absl::ZeroDuration();
  send_closed_ = false;
  go_away_after_.reset();
  if (hooks_.on_disconnected) hooks_.on_disconnected(status);

  if (status.code() == absl::StatusCode::kUnauthenticated) {
    Finish(status);
    return;
  }
  if (stopping_) {
    Finish(absl::OkStatus());
    return;
  }
  const absl::Duration delay =
      go_away_after.has_value()
          ? *go_away_after * absl::Uniform(rng_, 1.0, 1.0 + backoff_.options().jitter)
          : backoff_.Next();
  state_ = State::kWaiting;
  transport_.SetTimer(Timer::kReconnect, clock_.Now() + delay);
}

void ConnectionProtocol::OnTimer(Timer timer) {
  switch (timer) {
    case Timer::kHeartbeat: {
      if (!heartbeat_armed_) return;
      heartbeat_armed_ = false;
      v1::AgentMessage heartbeat;
      heartbeat.mutable_heartbeat();
      Send(std::move(heartbeat));
      ArmHeartbeat();
      return;
    }
    case Timer::kReconnect:
      if (state_ != State::kWaiting) return;
      state_ = State::kConnecting;
      transport_.Connect();
      return;
  }
}

void ConnectionProtocol::Send(v1::AgentMessage message) {
  // Nothing before Hello, which OnStreamStarted sends first, nor between streams.
  if (state_ == State::kStreaming && !send_closed_) transport_.Send(std::move(message));
}

void ConnectionProtocol::ArmHeartbeat() {
  heartbeat_armed_ = true;
  transport_.SetTimer(Timer::kHeartbeat, clock_.Now() + heartbeat_interval_);
}

void ConnectionProtocol::CancelHeartbeat() {
  if (!heartbeat_armed_) return;
  heartbeat_armed_ = false;
  transport_.CancelTimer(Timer::kHeartbeat);
}

void ConnectionProtocol::Finish(const absl::Status& status) {
  state_ = State::kFinished;
  transport_.Finished(status);
}

}  // namespace fleet::agent
