// One live query (RunQuery) run to its end and timed at the caller: from just before the call to
// the last result read off the stream, and to the summary. What the query scenarios measure.
#ifndef FLEETD_BENCH_SCALE_QUERY_TIMER_H_
#define FLEETD_BENCH_SCALE_QUERY_TIMER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fleet/v1/admin.grpc.pb.h"

namespace fleet::bench {

struct QueryOutcome {
  // From just before the RunQuery call until the last `results` event holding a result that
  // ended an agent's answer (last=true) was read; InfiniteDuration() when none came.
  absl::Duration to_last_result = absl::InfiniteDuration();
  // Until the summary was read.
  absl::Duration to_summary = absl::InfiniteDuration();
  // `results` events read, the results (QueryRows) they held, and of those the ones with
  // last=true (agents that finished answering).
  int64_t results_events = 0;
  int64_t results = 0;
  int64_t last_results = 0;
  // Agents whose last result carried an error, or was truncated.
  int64_t errors = 0;
  int64_t truncated = 0;
  // The targets the `started` event counted.
  int64_t targets = 0;
  v1::QuerySummary summary;
};

// Runs `request` on `stub` (not owned) with the admin token `token` and reads every event until
// the stream ends; the call's deadline is request's timeout plus `slack`. The stream's status
// when it ended with an error; INTERNAL when it ended without a summary.
[[nodiscard]] absl::StatusOr<QueryOutcome> RunTimedQuery(v1::AdminService::Stub& stub,
                                                         const std::string& token,
                                                         const v1::RunQueryRequest& request,
                                                         absl::Duration slack);

// OK when every one of `targets` targets was asked and answered without an error before the
// deadline; else FAILED_PRECONDITION saying how far the query got.
[[nodiscard]] absl::Status CheckAllAnswered(const QueryOutcome& outcome, int64_t targets);

}  // namespace fleet::bench

#endif  // FLEETD_BENCH_SCALE_QUERY_TIMER_H_
