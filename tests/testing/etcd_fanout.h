// The etcd half of the watch fan-out benchmark: how long one write to a key takes to reach every
// one of N watchers of it, each on its own etcd Watch stream, the streams spread over a chosen
// number of TCP connections.
#ifndef FLEETD_TESTS_TESTING_ETCD_FANOUT_H_
#define FLEETD_TESTS_TESTING_ETCD_FANOUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace fleet::testing {

struct EtcdFanoutOptions {
  // etcd's client address, "host:port".
  std::string endpoint;
  // Watch streams, one watch each, all on `key`.
  int streams = 1000;
  // TCP connections the streams share: stream i uses connection i % connections. The writer has
  // a connection of its own besides.
  int connections = 1;
  // The value written each round, before a fixed-size suffix that makes every round's value new.
  std::string payload = std::string(256, 'x');
  int rounds = 10;
  // How long every watcher may take to see one round's write.
  absl::Duration round_timeout = absl::Seconds(30);
  // How long all the watches may take to be created.
  absl::Duration open_timeout = absl::Seconds(120);
  // Nothing else should write it while the benchmark runs.
  std::string key = "/fleetd-bench/etcd-fanout";
};

struct EtcdFanoutResult {
  // For each round, seconds from just before the Put until the last watcher received the event.
  std::vector<double> round_seconds;
  // Seconds from opening the first stream until etcd had created every watch.
  double open_seconds = 0;
  // What went wrong without stopping the run, e.g. an event whose value no round wrote (someone
  // else wrote the key): how often, and the first few descriptions.
  int64_t error_count = 0;
  std::vector<std::string> errors;
};

// Opens options.streams watch streams on options.key, waits until all are created, then for each
// round Puts a new value and waits until every watcher has received it. Uses no thread per
// watcher: the streams run on gRPC's callback threads. Every stream is closed before it returns.
// Errors: INVALID_ARGUMENT for an empty endpoint or key or non-positive counts;
// DEADLINE_EXCEEDED, saying how many watchers were ready or got the write, when opening or a
// round took longer than its timeout; a stream's own error (e.g. UNAVAILABLE) when one ended
// before the run did; the Put's error when a write failed.
[[nodiscard]] absl::StatusOr<EtcdFanoutResult> MeasureEtcdFanout(const EtcdFanoutOptions& options);

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_ETCD_FANOUT_H_
