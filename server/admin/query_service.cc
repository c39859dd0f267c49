#include "server/admin/query_service.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "google/protobuf/util/time_util.h"
#include "server/admin/target_resolver.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;

constexpr size_t kMaxQueryBytes = 16 * 1024;
constexpr absl::Duration kDefaultTimeout = absl::Seconds(30);
constexpr absl::Duration kMaxTimeout = absl::Minutes(10);
// Progress goes out at most this often; the caller's cancel is looked at as often.
constexpr absl::Duration kProgressInterval = absl::Milliseconds(100);
// Results per event, about: well under a client's default 4 MiB receive limit.
constexpr int64_t kMaxResultsBytes = int64_t{1} << 20;
// How long results that came wait for others to join them in one event: a fleet answering at
// once costs the caller's stream tens of writes a second, not one per agent.
constexpr absl::Duration kGatherResults = absl::Milliseconds(20);

absl::StatusOr<absl::Duration> Timeout(const v1::RunQueryRequest& request) {
  if (!request.has_timeout()) return kDefaultTimeout;
  const absl::Duration timeout =
      absl::Microseconds(TimeUtil::DurationToMicroseconds(request.timeout()));
  if (timeout <= absl::ZeroDuration() || timeout > kMaxTimeout) {
    return absl::InvalidArgumentError(absl::StrCat("timeout must be above 0 and at most 10m (got ",
                                                   absl::FormatDuration(timeout), ")"));
  }
  return timeout;
}

absl::Status CheckQuery(const std::string& query) {
  if (query.empty()) return absl::InvalidArgumentError("query must not be empty");
  if (query.size() > kMaxQueryBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("query must be at most 16 KiB (got ", query.size(), " bytes)"));
  }
  if (!IsValidUtf8(query)) return absl::InvalidArgumentError("query must be valid UTF-8");
  return absl::OkStatus();
}

// Whether the counts differ, without reflection (MessageDifferencer): they are scalars only, so
// their serializations are equal exactly when they are.
bool Changed(const v1::QueryProgress& a, const v1::QueryProgress& b) {
  return a.SerializeAsString() != b.SerializeAsString();
}

v1::QueryEvent Event(const std::string& query_id) {
  v1::QueryEvent event;
  event.set_query_id(query_id);
  return event;
}

}  // namespace

absl::Status QueryService::Run(const v1::RunQueryRequest& request,
                               const std::function<bool(const v1::QueryEvent&)>& send,
                               const std::function<bool()>& cancelled) {
  if (absl::Status checked = CheckQuery(request.query()); !checked.ok()) return checked;
  absl::StatusOr<absl::Duration> timeout = Timeout(request);
  if (!timeout.ok()) return timeout.status();
  absl::StatusOr<std::vector<ResolvedTarget>> resolved =
      ResolveTargets(store_, directory_, request.targets());
  if (!resolved.ok()) return resolved.status();
  QueryRequest query_request{.text = request.query(), .deadline = clock_.Now() + *timeout};
  query_request.targets.reserve(resolved->size());
  for (ResolvedTarget& target : *resolved) {
    query_request.targets.push_back(
        {.agent_id = std::move(target.agent_id), .hostname = std::move(target.hostname)});
  }
  absl::StatusOr<std::unique_ptr<RunningQuery>> started = router_.Start(std::move(query_request));
  if (!started.ok()) return started.status();
  // Going out of scope (the caller gone, a failed write) cancels the query.
  RunningQuery& query = **started;

  v1::QueryProgress sent = query.Progress();
  v1::QueryEvent first = Event(query.id());
  *first.mutable_started() = sent;
  if (!send(first)) return absl::OkStatus();
  absl::Time progress_sent = absl::Now();
  while (true) {
    if (cancelled()) return absl::OkStatus();
    // Counts that changed wait until the interval since the last progress is up.
    const bool owed = Changed(query.Progress(), sent);
    const absl::Duration wait =
        owed ? std::max(progress_sent + kProgressInterval - absl::Now(), absl::ZeroDuration())
             : kProgressInterval;
    RunningQuery::Taken taken = query.Take(wait, kMaxResultsBytes, kGatherResults);
    if (!taken.rows.empty()) {
      // Whatever came while the last event was written goes in one: a write per batch, not per
      // agent, however many answer at once.
      v1::QueryEvent event = Event(query.id());
      v1::QueryResults& results = *event.mutable_results();
      results.mutable_rows()->Reserve(static_cast<int>(taken.rows.size()));
      for (v1::QueryRows& rows : taken.rows) *results.add_rows() = std::move(rows);
      if (!send(event)) return absl::OkStatus();
    }
    if (taken.ended) break;
    if (Changed(taken.progress, sent) && absl::Now() - progress_sent >= kProgressInterval) {
      sent = taken.progress;
      v1::QueryEvent event = Event(query.id());
      *event.mutable_progress() = sent;
      if (!send(event)) return absl::OkStatus();
      progress_sent = absl::Now();
    }
  }
  v1::QueryEvent last = Event(query.id());
  *last.mutable_summary() = query.Summary();
  send(last);
  return absl::OkStatus();
}

}  // namespace fleet::server
