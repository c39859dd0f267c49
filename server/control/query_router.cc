#include "server/control/query_router.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log_fields.h"
#include "google/protobuf/util/time_util.h"
#include "server/control/query_rows.h"
#include "server/model/secret_token.h"
#include "spdlog/spdlog.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;

// A query's id is that of a minted token (12 random lowercase hex characters); the rest of the
// token is not used.
constexpr char kQueryIdKind[] = "fqry";

// What a result costs besides its text: the message and its small fields.
constexpr int64_t kRowsOverheadBytes = 64;

int64_t HeldBytes(const v1::QueryRows& rows) {
  return static_cast<int64_t>(rows.rows_json().size() + rows.error().size() +
                              rows.hostname().size() + rows.agent_id().size()) +
         kRowsOverheadBytes;
}

}  // namespace

RunningQuery::RunningQuery(QueryRouter& router, Clock& clock, std::string id, absl::Time deadline,
                           const QueryLimits& limits)
    : router_(router), clock_(clock), id_(std::move(id)), deadline_(deadline), limits_(limits) {}

RunningQuery::~RunningQuery() { router_.Finish(*this); }

bool RunningQuery::Readable() const { return ended_ || !buffer_.empty(); }

bool RunningQuery::Gathered() const { return ended_ || buffered_bytes_ >= gather_bytes_; }

void RunningQuery::CheckDeadline() {
  if (ended_ || clock_.Now() < deadline_) return;
  ended_ = true;
  timed_out_ = answered_ < asked_;
}

v1::QueryProgress RunningQuery::ProgressLocked() const {
  v1::QueryProgress progress;
  progress.set_targets(static_cast<int64_t>(targets_.size()));
  progress.set_answered(answered_);
  progress.set_pending(asked_ - answered_);
  progress.set_offline(offline_);
  progress.set_errors(errors_);
  return progress;
}

v1::QueryProgress RunningQuery::Progress() {
  absl::MutexLock lock(&mu_);
  return ProgressLocked();
}

void RunningQuery::Report(const std::string& agent_id, const v1::QueryResult& result) {
  auto found = index_.find(agent_id);
  if (found == index_.end()) return;  // not a target
  absl::MutexLock lock(&mu_);
  CheckDeadline();
  if (ended_) return;
  Target& target = targets_[found->second];
  if (target.state != TargetState::kPending) return;  // not asked, or after its last

  v1::QueryRows rows;
  rows.set_agent_id(agent_id);
  rows.set_hostname(target.target.hostname);
  rows.set_error(result.error());
  rows.set_truncated(result.truncated());
  rows.set_last(result.last());
  *rows.mutable_duration() = result.duration();
  const CountedRows counted =
      CountRows(result.rows_json(), std::max<int64_t>(limits_.max_rows_per_agent - target.rows, 0));
  if (counted.cut) {
    rows.set_rows_json(counted.kept);
    rows.set_truncated(true);
    target.rows = limits_.max_rows_per_agent;
  } else {
    rows.set_rows_json(result.rows_json().empty() ? "[]" : result.rows_json());
    target.rows += counted.rows;
  }
  bool keep = counted.rows > 0 || rows.truncated() || rows.last() || !rows.error().empty();
  if (target.dropped || buffered_bytes_ + HeldBytes(rows) > limits_.max_bytes) {
    // Over the bytes limit: the rows go, and the caller hears so once per agent and with its
    // last result; so what a query holds beyond the limit is bounded by its targets.
    const bool first_dropped = !target.dropped;
    target.dropped = true;
    rows.set_rows_json("[]");
    rows.set_truncated(true);
    keep = first_dropped || rows.last();
  }
  if (!result.error().empty()) target.error = true;
  if (result.last()) {
    target.state = TargetState::kAnswered;
    ++answered_;
    if (target.error) ++errors_;
    if (answered_ == asked_) ended_ = true;
  }
  if (!keep) return;
  buffered_bytes_ += HeldBytes(rows);
  buffer_.push_back(std::move(rows));
}

RunningQuery::Taken RunningQuery::Take(absl::Duration timeout, int64_t max_bytes,
                                       absl::Duration gather) {
  absl::MutexLock lock(&mu_);
  // The clock may be a test's: waiting never runs past the deadline as it reads now.
  auto wait = [this](bool (RunningQuery::*ready)() const, absl::Duration most) {
    mu_.AssertHeld();
    const absl::Duration to_deadline = deadline_ - clock_.Now();
    mu_.AwaitWithTimeout(absl::Condition(this, ready),
                         std::max(std::min(most, to_deadline), absl::ZeroDuration()));
    CheckDeadline();
  };
  CheckDeadline();
  if (!Readable()) wait(&RunningQuery::Readable, timeout);
  if (!buffer_.empty() && gather > absl::ZeroDuration()) {
    // Half the limit, so that the agents answering meanwhile are not cut by it.
    gather_bytes_ = std::min(max_bytes, limits_.max_bytes / 2);
    if (!Gathered()) wait(&RunningQuery::Gathered, gather);
  }
  Taken taken;
  int64_t bytes = 0;
  while (!buffer_.empty() && (taken.rows.empty() || bytes < max_bytes)) {
    const int64_t held = HeldBytes(buffer_.front());
    bytes += held;
    buffered_bytes_ -= held;
    taken.rows.push_back(std::move(buffer_.front()));
    buffer_.pop_front();
  }
  taken.progress = ProgressLocked();
  taken.ended = ended_ && buffer_.empty();
  return taken;
}

v1::QuerySummary RunningQuery::Summary() {
  absl::MutexLock lock(&mu_);
  CheckDeadline();
  v1::QuerySummary summary;
  summary.set_query_id(id_);
  *summary.mutable_progress() = ProgressLocked();
  summary.set_timed_out(timed_out_);
  summary.set_interrupted(interrupted_);
  for (const Target& target : targets_) {
    if (target.state == TargetState::kPending) {
      summary.add_pending_ids(target.target.agent_id);
    } else if (target.state == TargetState::kOffline) {
      summary.add_offline_ids(target.target.agent_id);
    }
  }
  return summary;
}

QueryRouter::QueryRouter(AgentMailbox& mailbox, AgentStateTracker& state, Clock& clock,
                         QueryLimits limits)
    : mailbox_(mailbox), state_(state), clock_(clock), limits_(limits) {}

QueryRouter::~QueryRouter() = default;

absl::StatusOr<std::unique_ptr<RunningQuery>> QueryRouter::Start(QueryRequest request) {
  std::unique_ptr<RunningQuery> query(
      new RunningQuery(*this, clock_, MintToken(kQueryIdKind).id, request.deadline, limits_));
  std::sort(request.targets.begin(), request.targets.end(),
            [](const QueryTarget& a, const QueryTarget& b) { return a.agent_id < b.agent_id; });
  query->targets_.reserve(request.targets.size());
  query->index_.reserve(request.targets.size());
  std::vector<std::pair<std::string, absl::Time>> recipients;
  QueryForwarder* const forwarder = request.forward ? forwarder_.load() : nullptr;
  std::map<std::string, std::vector<std::string>> elsewhere;  // replica -> agents it holds
  int64_t forwarded = 0;
  for (QueryTarget& target : request.targets) {
    if (!query->index_.emplace(target.agent_id, query->targets_.size()).second) continue;
    bool online = state_.IsOnline(target.agent_id);
    if (online) {
      recipients.emplace_back(target.agent_id, absl::InfinitePast());
    } else if (forwarder != nullptr) {
      if (std::string holder = state_.HolderElsewhere(target.agent_id); !holder.empty()) {
        elsewhere[holder].push_back(target.agent_id);
        ++forwarded;
        online = true;
      }
    }
    query->targets_.push_back(
        RunningQuery::Target{.target = std::move(target),
                             .state = online ? RunningQuery::TargetState::kPending
                                             : RunningQuery::TargetState::kOffline});
  }
  query->forwarded_ = forwarded > 0;
  query->asked_ = static_cast<int64_t>(recipients.size()) + forwarded;
  query->offline_ = static_cast<int64_t>(query->targets_.size()) - query->asked_;
  {
    absl::MutexLock lock(&query->mu_);
    if (query->asked_ == 0) query->ended_ = true;
  }
  {
    absl::MutexLock lock(&mu_);
    if (interrupted_) {
      return absl::UnavailableError(
          "fleetd is shutting down; run the query again once it (or another replica) serves");
    }
    if (static_cast<int64_t>(queries_.size()) >= limits_.max_concurrent) {
      return absl::ResourceExhaustedError(
          absl::StrCat("fleetd runs as many live queries as it allows (", limits_.max_concurrent,
                       ", --max-concurrent-queries); try again when one has ended"));
    }
    // Ids are 48 random bits: a clash with a running query is as good as impossible, and
    // refused all the same.
    if (!queries_.emplace(query->id(), query.get()).second) {
      return absl::AbortedError("a live query with the same id runs already; try again");
    }
  }
  if (!recipients.empty()) {
    v1::ServerMessage message;
    v1::AgentQuery& asked = *message.mutable_query();
    asked.set_id(query->id());
    asked.set_query(std::move(request.text));
    *asked.mutable_deadline() =
        TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(request.deadline));
    auto mail = std::make_shared<Mail>();
    mail->kind = Mail::Kind::kQuery;
    mail->id = query->id();
    mail->bytes = std::make_shared<const std::string>(message.SerializeAsString());
    mail->expires_at = request.deadline;
    mailbox_.Post(mail, recipients);
  }
  if (query->forwarded_) {
    if (absl::Status s = forwarder->Forward(query->id(), request, elsewhere); !s.ok()) {
      LogEvent(spdlog::level::warn, "store error",
               {{"op", "forward a live query"}, {"error", std::string(s.message())}});
    }
  }
  return query;
}

void QueryRouter::SetForwarder(QueryForwarder* forwarder) { forwarder_.store(forwarder); }

void QueryRouter::QueryResultReported(const std::string& agent_id, const v1::QueryResult& result) {
  // Held while reporting, so that the query cannot go meanwhile (Finish waits for it).
  absl::ReaderMutexLock lock(&mu_);
  auto found = queries_.find(result.id());
  if (found == queries_.end()) return;  // unknown or ended and let go
  found->second->Report(agent_id, result);
}

void QueryRouter::Interrupt() {
  absl::MutexLock lock(&mu_);
  interrupted_ = true;
  for (auto& [id, query] : queries_) {
    absl::MutexLock query_lock(&query->mu_);
    if (query->ended_) continue;
    query->ended_ = true;
    query->interrupted_ = true;
  }
}

int64_t QueryRouter::running() {
  absl::ReaderMutexLock lock(&mu_);
  return static_cast<int64_t>(queries_.size());
}

void QueryRouter::Finish(RunningQuery& query) {
  {
    absl::MutexLock lock(&mu_);
    auto found = queries_.find(query.id());
    if (found == queries_.end() || found->second != &query) return;  // never registered
    queries_.erase(found);
  }
  {
    absl::MutexLock lock(&query.mu_);
    query.ended_ = true;
  }
  for (const RunningQuery::Target& target : query.targets_) {
    if (target.state != RunningQuery::TargetState::kOffline) {
      mailbox_.Remove(target.target.agent_id, Mail::Kind::kQuery, query.id());
    }
  }
  if (query.forwarded_) {
    if (QueryForwarder* forwarder = forwarder_.load(); forwarder != nullptr) {
      forwarder->Forget(query.id());
    }
  }
}

}  // namespace fleet::server
