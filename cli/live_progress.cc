#include "cli/live_progress.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "common/backoff.h"

namespace fleet::cli {
namespace {

// How a watch waits between attempts to reach fleetd again: quickly at first (a restart takes
// a second or two, its shutdown at most its grace period), at most 2 s apart: one client
// knocking every 2 s costs fleetd nothing, and the watch sees it back within about 2 s.
constexpr BackoffOptions kReconnectBackoff = {
    .initial = absl::Milliseconds(250), .max = absl::Seconds(2), .multiplier = 2.0, .jitter = 0.2};

}  // namespace

ProgressLine::ProgressLine(std::ostream& err, bool terminal, absl::Duration min_interval)
    : err_(err), terminal_(terminal), min_interval_(min_interval) {}

ProgressLine::ProgressLine(absl::Duration min_interval)
    : ProgressLine(std::cerr, isatty(STDERR_FILENO) == 1, min_interval) {}

ProgressLine::~ProgressLine() { Finish(); }

void ProgressLine::Update(const std::string& line, absl::Time now) {
  if (terminal_) {
    err_ << "\r" << line << "\x1b[K" << std::flush;
    in_line_ = true;
    return;
  }
  if (now - last_printed_ < min_interval_) {
    unprinted_ = line;
    return;
  }
  unprinted_.clear();
  last_printed_ = now;
  err_ << line << std::endl;
}

void ProgressLine::Note(const std::string& text) {
  EndLine();
  err_ << text << std::endl;
}

void ProgressLine::Finish() {
  if (!unprinted_.empty()) {
    err_ << unprinted_ << std::endl;
    unprinted_.clear();
  }
  EndLine();
}

void ProgressLine::EndLine() {
  if (in_line_) err_ << "\n" << std::flush;
  in_line_ = false;
}

bool Reconnectable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
      return true;
    default:
      return false;
  }
}

absl::Status WatchUntil(absl::Time deadline, ProgressLine& progress, const WatchAttempt& attempt) {
  absl::BitGen rng;
  Backoff backoff(kReconnectBackoff, rng);
  while (true) {
    const absl::Duration remaining = deadline - absl::Now();
    if (remaining <= absl::ZeroDuration()) break;
    bool answered = false;
    const absl::Status watched = attempt(remaining, answered);
    if (answered) backoff.Reset();
    if (watched.ok()) return watched;
    if (absl::IsDeadlineExceeded(watched)) break;
    if (!Reconnectable(watched)) return watched;
    const absl::Duration delay = std::min(backoff.Next(), deadline - absl::Now());
    if (delay <= absl::ZeroDuration()) break;
    progress.Note(absl::StrCat("watch interrupted: ", watched.message(), "; reconnecting in ",
                               absl::FormatDuration(absl::Trunc(delay, absl::Milliseconds(10)))));
    absl::SleepFor(delay);
  }
  return absl::DeadlineExceededError("the deadline passed");
}

}  // namespace fleet::cli
