#include "tests/testing/etcd_fanout.h"

#include <grpcpp/channel.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "storage/etcd/etcd_client.h"
#include "storage/etcd/etcd_watch.h"

namespace fleet::testing {
namespace {

using storage::etcd::EtcdClient;
using storage::etcd::EtcdWatchStream;

constexpr size_t kRoundDigits = 8;
constexpr size_t kMaxErrorSamples = 10;
// How long the closed streams may take to end.
constexpr absl::Duration kCloseTimeout = absl::Seconds(30);

// The value of `round`: the payload, '#', and the round in kRoundDigits digits, so that every
// round's value has the same size.
std::string RoundValue(const std::string& payload, int round) {
  std::string digits = absl::StrCat(round);
  return absl::StrCat(payload, "#", std::string(kRoundDigits - digits.size(), '0'), digits);
}

// The round RoundValue wrote `value` for, or nullopt for a value it did not write.
std::optional<int> RoundOf(absl::string_view value) {
  if (value.size() < kRoundDigits + 1 || value[value.size() - kRoundDigits - 1] != '#') {
    return std::nullopt;
  }
  int round = 0;
  if (!absl::SimpleAtoi(value.substr(value.size() - kRoundDigits), &round)) return std::nullopt;
  return round;
}

// What the watchers' callbacks report, for the measuring thread to wait on. Thread-safe.
class FanoutTracker {
 public:
  explicit FanoutTracker(int watchers) : watchers_(watchers), last_round_(watchers, -1) {}

  // A watch was created.
  void Created() {
    absl::MutexLock lock(&mu_);
    if (++created_ == watchers_) all_created_at_ = absl::Now();
  }

  // Watcher `index` received `response`.
  void Events(int index, const etcdserverpb::WatchResponse& response) {
    absl::MutexLock lock(&mu_);
    for (const etcdserverpb::Event& event : response.events()) {
      std::optional<int> round = RoundOf(event.kv().value());
      if (event.type() != etcdserverpb::Event::PUT || !round.has_value()) {
        Error(absl::StrCat("watcher ", index, ": an event no round wrote, at revision ",
                           event.kv().mod_revision()));
      } else if (*round != round_ || *round <= last_round_[index]) {
        Error(absl::StrCat("watcher ", index, ": round ", *round, "'s event during round ", round_,
                           " (its last was round ", last_round_[index], ")"));
      } else {
        last_round_[index] = *round;
        if (++arrived_ == watchers_) round_done_at_ = absl::Now();
      }
    }
  }

  // Watcher `index`'s stream ended with `status`; before Closing(), that fails the run.
  void StreamEnded(int index, const absl::Status& status) {
    absl::MutexLock lock(&mu_);
    if (closing_ || failure_.has_value()) return;
    failure_ = absl::Status(status.code(),
                            absl::StrCat("watch stream ", index, " ended: ", status.message()));
  }

  // When every watch was created; or the first stream failure; or DEADLINE_EXCEEDED once
  // `timeout` has passed since `start`.
  absl::StatusOr<absl::Time> WaitAllCreated(absl::Time start, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithDeadline(absl::Condition(this, &FanoutTracker::AllCreatedOrFailed),
                          start + timeout);
    if (failure_.has_value()) return *failure_;
    if (created_ < watchers_) {
      return absl::DeadlineExceededError(absl::StrCat("only ", created_, " of ", watchers_,
                                                      " etcd watches were created within ",
                                                      absl::FormatDuration(timeout)));
    }
    return all_created_at_;
  }

  // Starts counting arrivals of `round`'s event.
  void StartRound(int round) {
    absl::MutexLock lock(&mu_);
    round_ = round;
    arrived_ = 0;
  }

  // When the last watcher received the round's event; or the first stream failure; or
  // DEADLINE_EXCEEDED once `timeout` has passed since `start`.
  absl::StatusOr<absl::Time> WaitRound(absl::Time start, absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithDeadline(absl::Condition(this, &FanoutTracker::RoundDoneOrFailed),
                          start + timeout);
    if (failure_.has_value()) return *failure_;
    if (arrived_ < watchers_) {
      return absl::DeadlineExceededError(absl::StrCat("round ", round_, ": only ", arrived_, " of ",
                                                      watchers_, " watchers got the write within ",
                                                      absl::FormatDuration(timeout)));
    }
    return round_done_at_;
  }

  // From now on, streams ending is expected.
  void Closing() {
    absl::MutexLock lock(&mu_);
    closing_ = true;
  }

  void AddErrorsTo(EtcdFanoutResult& result) {
    absl::MutexLock lock(&mu_);
    result.error_count = error_count_;
    result.errors = errors_;
  }

 private:
  bool AllCreatedOrFailed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return created_ == watchers_ || failure_.has_value();
  }
  bool RoundDoneOrFailed() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return arrived_ == watchers_ || failure_.has_value();
  }
  void Error(std::string what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    ++error_count_;
    if (errors_.size() < kMaxErrorSamples) errors_.push_back(std::move(what));
  }

  const int watchers_;

  absl::Mutex mu_;
  int created_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time all_created_at_ ABSL_GUARDED_BY(mu_);
  int round_ ABSL_GUARDED_BY(mu_) = -1;
  int arrived_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time round_done_at_ ABSL_GUARDED_BY(mu_);
  // Per watcher, the last round whose event it received.
  std::vector<int> last_round_ ABSL_GUARDED_BY(mu_);
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<absl::Status> failure_ ABSL_GUARDED_BY(mu_);
  int64_t error_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
};

absl::Status Validate(const EtcdFanoutOptions& options) {
  if (options.endpoint.empty() || options.key.empty()) {
    return absl::InvalidArgumentError("etcd fan-out: endpoint and key must not be empty");
  }
  if (options.streams <= 0 || options.connections <= 0 || options.rounds <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("etcd fan-out: streams (", options.streams, "), connections (",
                     options.connections, ") and rounds (", options.rounds, ") must be positive"));
  }
  return absl::OkStatus();
}

// Opens the streams into `streams` (which the caller closes, also on error) and runs the rounds.
absl::StatusOr<EtcdFanoutResult> OpenAndMeasure(
    const EtcdFanoutOptions& options, FanoutTracker& tracker,
    std::vector<std::unique_ptr<EtcdWatchStream>>& streams) {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < options.connections; ++i) {
    channels.push_back(storage::etcd::NewEtcdChannel(options.endpoint, /*own_connection=*/true));
  }
  EtcdFanoutResult result;
  const absl::Time open_start = absl::Now();
  for (int i = 0; i < options.streams; ++i) {
    absl::StatusOr<std::unique_ptr<EtcdWatchStream>> stream = EtcdWatchStream::Open(
        channels[i % options.connections], options.endpoint, {.key = options.key},
        {.on_created = [&tracker](const etcdserverpb::WatchResponse&) { tracker.Created(); },
         .on_events =
             [&tracker, i](const etcdserverpb::WatchResponse& response) {
               tracker.Events(i, response);
             },
         .on_done = [&tracker, i](const absl::Status& status) { tracker.StreamEnded(i, status); }});
    if (!stream.ok()) return stream.status();
    streams.push_back(*std::move(stream));
  }
  absl::StatusOr<absl::Time> all_created = tracker.WaitAllCreated(open_start, options.open_timeout);
  if (!all_created.ok()) return all_created.status();
  result.open_seconds = absl::ToDoubleSeconds(*all_created - open_start);

  EtcdClient writer(storage::etcd::NewEtcdChannel(options.endpoint, /*own_connection=*/true),
                    options.endpoint, {.call_timeout = options.round_timeout});
  for (int round = 0; round < options.rounds; ++round) {
    tracker.StartRound(round);
    const std::string value = RoundValue(options.payload, round);
    const absl::Time start = absl::Now();
    absl::StatusOr<int64_t> revision = writer.Put(options.key, value);
    if (!revision.ok()) return revision.status();
    absl::StatusOr<absl::Time> last_arrival = tracker.WaitRound(start, options.round_timeout);
    if (!last_arrival.ok()) return last_arrival.status();
    result.round_seconds.push_back(absl::ToDoubleSeconds(*last_arrival - start));
  }
  return result;
}

// Cancels every stream and gives them kCloseTimeout to end, so that their destructors, which wait
// for the end without a bound, find them ended.
void CloseStreams(FanoutTracker& tracker, std::vector<std::unique_ptr<EtcdWatchStream>>& streams) {
  tracker.Closing();
  for (const std::unique_ptr<EtcdWatchStream>& stream : streams) stream->Cancel();
  const absl::Time deadline = absl::Now() + kCloseTimeout;
  for (const std::unique_ptr<EtcdWatchStream>& stream : streams) {
    stream->Wait(std::max(deadline - absl::Now(), absl::ZeroDuration()));
  }
  streams.clear();
}

}  // namespace

absl::StatusOr<EtcdFanoutResult> MeasureEtcdFanout(const EtcdFanoutOptions& options) {
  if (absl::Status valid = Validate(options); !valid.ok()) return valid;
  FanoutTracker tracker(options.streams);
  // After the tracker, so that the streams, whose callbacks use it, go first.
  std::vector<std::unique_ptr<EtcdWatchStream>> streams;
  streams.reserve(options.streams);
  absl::StatusOr<EtcdFanoutResult> result = OpenAndMeasure(options, tracker, streams);
  CloseStreams(tracker, streams);
  if (result.ok()) tracker.AddErrorsTo(*result);
  return result;
}

}  // namespace fleet::testing
