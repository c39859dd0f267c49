// The live progress line: in place on a terminal, throttled lines in a log, the last one always.
#include "cli/live_progress.h"

#include <sstream>

#include "gtest/gtest.h"

namespace fleet::cli {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

// On a terminal each update rewrites the line; a note ends it and stands on its own line.
TEST(ProgressLineTest, TerminalRewritesInPlace) {
  std::ostringstream err;
  {
    ProgressLine progress(err, /*terminal=*/true, absl::Seconds(1));
    progress.Update("1/3 answered", kStart);
    progress.Update("2/3 answered", kStart);
    progress.Note("agent a: error: boom");
    progress.Update("3/3 answered", kStart);
  }
  EXPECT_EQ(err.str(),
            "\r1/3 answered\x1b[K\r2/3 answered\x1b[K\nagent a: error: boom\n\r3/3 "
            "answered\x1b[K\n");
}

// Not on a terminal: at most one line per interval, and Finish prints the latest update held
// back, so the last state is never lost.
TEST(ProgressLineTest, LogLinesAreThrottledAndTheLastIsKept) {
  std::ostringstream err;
  ProgressLine progress(err, /*terminal=*/false, absl::Seconds(1));
  progress.Update("1/4", kStart);
  progress.Update("2/4", kStart + absl::Milliseconds(300));
  progress.Update("3/4", kStart + absl::Milliseconds(600));
  progress.Update("4/4", kStart + absl::Milliseconds(1100));
  progress.Update("4/4 done", kStart + absl::Milliseconds(1200));
  EXPECT_EQ(err.str(), "1/4\n4/4\n");
  progress.Finish();
  EXPECT_EQ(err.str(), "1/4\n4/4\n4/4 done\n");
  progress.Finish();
  EXPECT_EQ(err.str(), "1/4\n4/4\n4/4 done\n");
}

// Without an interval every update is a line (rollout status --watch).
TEST(ProgressLineTest, NoIntervalPrintsEveryUpdate) {
  std::ostringstream err;
  ProgressLine progress(err, /*terminal=*/false);
  progress.Update("a", kStart);
  progress.Update("b", kStart);
  EXPECT_EQ(err.str(), "a\nb\n");
}

// The watch ends OK once an attempt decides, goes on after a reconnectable break (saying so),
// and stops at once on an error it cannot ride out.
TEST(WatchUntilTest, RetriesReconnectableErrorsOnly) {
  std::ostringstream err;
  ProgressLine progress(err, /*terminal=*/false);
  int attempts = 0;
  absl::Status done =
      WatchUntil(absl::Now() + absl::Seconds(60), progress, [&](absl::Duration, bool& answered) {
        answered = true;
        return ++attempts < 2 ? absl::UnavailableError("restarting") : absl::OkStatus();
      });
  EXPECT_TRUE(done.ok()) << done;
  EXPECT_EQ(attempts, 2);
  EXPECT_NE(err.str().find("watch interrupted: restarting; reconnecting in"), std::string::npos)
      << err.str();
  absl::Status denied =
      WatchUntil(absl::Now() + absl::Seconds(60), progress,
                 [](absl::Duration, bool&) { return absl::NotFoundError("no action x"); });
  EXPECT_TRUE(absl::IsNotFound(denied)) << denied;
  absl::Status passed = WatchUntil(absl::Now() - absl::Seconds(1), progress,
                                   [](absl::Duration, bool&) { return absl::OkStatus(); });
  EXPECT_TRUE(absl::IsDeadlineExceeded(passed)) << passed;
}

}  // namespace
}  // namespace fleet::cli
