#include "bench/scale/query_timer.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/scale/bench_env.h"

namespace fleet::bench {
namespace {

// RunQuery's timeout when the request leaves it unset (admin.proto).
constexpr absl::Duration kDefaultQueryTimeout = absl::Seconds(30);

std::string Describe(const v1::QueryProgress& progress) {
  return absl::StrCat(progress.targets(), " targets, ", progress.answered(), " answered, ",
                      progress.pending(), " pending, ", progress.offline(), " offline, ",
                      progress.errors(), " errors");
}

}  // namespace

absl::StatusOr<QueryOutcome> RunTimedQuery(v1::AdminService::Stub& stub, const std::string& token,
                                           const v1::RunQueryRequest& request,
                                           absl::Duration slack) {
  const absl::Duration timeout = request.has_timeout()
                                     ? absl::Seconds(request.timeout().seconds()) +
                                           absl::Nanoseconds(request.timeout().nanos())
                                     : kDefaultQueryTimeout;
  const absl::Time start = absl::Now();
  std::unique_ptr<grpc::ClientContext> context = AdminContext(token, start + timeout + slack);
  std::unique_ptr<grpc::ClientReader<v1::QueryEvent>> reader =
      stub.RunQuery(context.get(), request);
  QueryOutcome outcome;
  bool summarized = false;
  v1::QueryEvent event;
  while (reader->Read(&event)) {
    switch (event.event_case()) {
      case v1::QueryEvent::kStarted:
        outcome.targets = event.started().targets();
        break;
      case v1::QueryEvent::kResults: {
        ++outcome.results_events;
        for (const v1::QueryRows& rows : event.results().rows()) {
          ++outcome.results;
          if (rows.truncated()) ++outcome.truncated;
          if (rows.last()) {
            outcome.to_last_result = absl::Now() - start;
            ++outcome.last_results;
            if (!rows.error().empty()) ++outcome.errors;
          }
        }
        break;
      }
      case v1::QueryEvent::kSummary:
        outcome.to_summary = absl::Now() - start;
        outcome.summary = event.summary();
        summarized = true;
        break;
      default:
        break;
    }
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) {
    return CallError(status, "RunQuery");
  }
  if (!summarized) return absl::InternalError("RunQuery ended without a summary");
  return outcome;
}

absl::Status CheckAllAnswered(const QueryOutcome& outcome, int64_t targets) {
  const v1::QueryProgress& progress = outcome.summary.progress();
  if (progress.targets() != targets || progress.answered() != targets || progress.errors() != 0 ||
      outcome.summary.timed_out() || outcome.last_results != targets) {
    return absl::FailedPreconditionError(absl::StrCat(
        "expected all of ", targets, " targets to answer without an error; the summary says ",
        Describe(progress), outcome.summary.timed_out() ? " (timed out)" : "", ", and ",
        outcome.last_results, " last results came"));
  }
  return absl::OkStatus();
}

}  // namespace fleet::bench
