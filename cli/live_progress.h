// What the commands that follow something live share (rollout status --watch, action status
// --watch, query): a progress line on stderr, and a watch stream that rides out fleetd restarts.
#ifndef FLEETD_CLI_LIVE_PROGRESS_H_
#define FLEETD_CLI_LIVE_PROGRESS_H_

#include <functional>
#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace fleet::cli {

// The live progress line: on a terminal rewritten in place ("\r", the line, erase to the end);
// otherwise one line per update, at most one per `min_interval` (the latest update is printed by
// Finish, so the last state is always shown); notes on lines of their own. Not thread-safe.
class ProgressLine {
 public:
  // Writes to `err`, which must outlive it.
  ProgressLine(std::ostream& err, bool terminal,
               absl::Duration min_interval = absl::ZeroDuration());
  // On stderr, a terminal when stderr is one.
  explicit ProgressLine(absl::Duration min_interval = absl::ZeroDuration());
  // Finish()es.
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  void Update(const std::string& line, absl::Time now = absl::Now());
  // `text` on a line of its own (after the progress line, which is then shown again on the next
  // update).
  void Note(const std::string& text);
  // Prints the latest update if it is not shown yet and ends the line on a terminal.
  void Finish();

 private:
  void EndLine();

  std::ostream& err_;
  const bool terminal_;
  const absl::Duration min_interval_;
  bool in_line_ = false;   // a terminal's cursor is after the progress line
  std::string unprinted_;  // not a terminal: the latest update, not printed yet
  absl::Time last_printed_ = absl::InfinitePast();
};

// Whether a watch can go on after `status`: fleetd restarting or briefly unreachable.
bool Reconnectable(const absl::Status& status);

// One attempt at a watch stream, given the time left: OK once the caller has decided (it stops
// the stream), else the stream's error. Sets `answered` when fleetd sent anything, so that the
// next break starts the backoff over.
using WatchAttempt = std::function<absl::Status(absl::Duration remaining, bool& answered)>;

// Runs `attempt` until it returns OK (returns OK), `deadline` passes (DEADLINE_EXCEEDED, also
// when the attempt reports it), or it fails with a status that is not Reconnectable (returned).
// Between attempts it waits with backoff (250 ms doubling to 2 s, jittered, never past the
// deadline), saying so on `progress`. With an infinite deadline it is deliberately unbounded: the
// operator asked to wait however long it takes.
absl::Status WatchUntil(absl::Time deadline, ProgressLine& progress, const WatchAttempt& attempt);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_LIVE_PROGRESS_H_
