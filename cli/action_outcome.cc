#include "cli/action_outcome.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/resource_tables.h"

namespace fleet::cli {
namespace {

int64_t Unfinished(const v1::ActionCounts& counts) {
  return counts.pending() + counts.delivered() + counts.running();
}

bool AddsUp(const v1::ActionCounts& counts) {
  return counts.targets() >= 0 &&
         Unfinished(counts) + counts.succeeded() + Unsuccessful(counts) == counts.targets();
}

// "151 pending, 3 failed" for the states other than succeeded that have targets.
std::vector<std::string> OtherStates(const v1::ActionCounts& counts) {
  const std::pair<const char*, int64_t> states[] = {
      {"pending", counts.pending()},    {"delivered", counts.delivered()},
      {"running", counts.running()},    {"failed", counts.failed()},
      {"rejected", counts.rejected()},  {"expired", counts.expired()},
      {"cancelled", counts.cancelled()}};
  std::vector<std::string> parts;
  for (const auto& [name, count] : states) {
    if (count > 0) parts.push_back(absl::StrCat(WithThousands(count), " ", name));
  }
  return parts;
}

std::string CountsText(const v1::ActionCounts& counts) {
  std::vector<std::string> parts = {absl::StrCat(WithThousands(counts.succeeded()), "/",
                                                 WithThousands(counts.targets()), " succeeded")};
  for (std::string& part : OtherStates(counts)) parts.push_back(std::move(part));
  return absl::StrJoin(parts, ", ");
}

}  // namespace

int64_t Unsuccessful(const v1::ActionCounts& counts) {
  return counts.failed() + counts.rejected() + counts.expired() + counts.cancelled();
}

ActionVerdict DecideAction(const v1::Action& action) {
  const v1::ActionCounts& counts = action.counts();
  if (!AddsUp(counts) || Unfinished(counts) > 0) return ActionVerdict::kWaiting;
  return Unsuccessful(counts) > 0 ? ActionVerdict::kUnsuccessful : ActionVerdict::kSucceeded;
}

std::string ActionProgress(const v1::Action& action, absl::Duration elapsed) {
  return absl::StrCat("action ", action.id(), " ", action.type(), ": ", CountsText(action.counts()),
                      ", ", absl::FormatDuration(absl::Trunc(elapsed, absl::Seconds(1))),
                      " elapsed");
}

absl::Status ActionOutcome(const v1::Action& action, bool timed_out, const std::string& timeout) {
  const v1::ActionCounts& counts = action.counts();
  if (DecideAction(action) == ActionVerdict::kSucceeded) return absl::OkStatus();
  if (Unsuccessful(counts) > 0) {
    // At the timeout some targets are unfinished too: the line says so, and why it ended.
    const std::string ending = timed_out && Unfinished(counts) > 0
                                   ? absl::StrCat(" and ", WithThousands(Unfinished(counts)),
                                                  " were unfinished after ", timeout)
                                   : "";
    return absl::FailedPreconditionError(
        absl::StrCat("action ", action.id(), ": ", WithThousands(Unsuccessful(counts)), " of ",
                     WithThousands(counts.targets()), " targets did not succeed", ending, " (",
                     CountsText(counts), "); see fleetctl describe action ", action.id()));
  }
  if (timed_out) {
    return absl::DeadlineExceededError(absl::StrCat("action ", action.id(), " not finished after ",
                                                    timeout, " (", CountsText(counts), ")"));
  }
  return absl::OkStatus();
}

std::string ActionStateOf(const v1::Action& action) {
  if (!action.done()) return "active";
  if (action.has_cancelled_at()) return "cancelled";
  if (action.counts().expired() > 0) return "expired";
  return "done";
}

}  // namespace fleet::cli
