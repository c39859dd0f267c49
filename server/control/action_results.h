// Where the targets of actions stand, made durable: the ActionEngine (action_engine.h) hands each
// change of a target here, and a flusher writes what changed to /action_results/ID/AGENT in the
// store's unlogged state, in batches (Store::PutState, at most kMaxResultsPerPut a call) every
// flush interval and on Stop: a result of 100,000 agents costs a few writes, never one per agent,
// and never a revision. A target changed several times between flushes is written once, as it
// is last. What the engine calls settled (a final state, and a target leaving pending: whether
// the agent has the action decides whether a cancel is sent to it) goes with the next flush; a
// change on the way (delivered to running, progress, a message) may wait up to a hold for the
// target's next change, so that a target that reports progress often is written at most once per
// hold. After a restart LoadActionResults reads them back: settled states to within one flush
// interval, changes on the way to within the hold.
//
// On a shared store (several replicas) the results are revisioned keys instead, written in
// transactions of kSharedResultsPerTxn, so that every replica's ActionEngine sees the results the
// others' agents reported (it follows them with its Reflector); each replica writes only what
// its own agents reported.
#ifndef FLEETD_SERVER_CONTROL_ACTION_RESULTS_H_
#define FLEETD_SERVER_CONTROL_ACTION_RESULTS_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/model/records.pb.h"
#include "storage/store.h"

namespace fleet::server {

// Puts per Store::PutState call: the store's transaction op limit.
inline constexpr size_t kMaxResultsPerPut = storage::kMaxOpsPerTxn;
// Puts per transaction on a shared store (under etcd's default --max-txn-ops of 128), and never
// more ops or bytes than the store takes (Store::MaxTxnOps, MaxTxnBytes).
inline constexpr size_t kSharedResultsPerTxn = 100;

// Every stored result: action id -> agent id -> its record. Records that do not parse are
// skipped (and logged). Errors are the store's.
using StoredActionResults =
    absl::flat_hash_map<std::string, std::map<std::string, record::ActionResultRecord>>;
absl::StatusOr<StoredActionResults> LoadActionResults(storage::Store& store);

// One stored result: the action and agent its key names, and its record.
struct StoredResult {
  std::string action_id;
  std::string agent_id;
  record::ActionResultRecord result;
};
// The result stored at `key` (/action_results/ID/AGENT) as `value`; nullopt for another key or a
// record that does not parse (logged once, as `what_then` says what follows).
std::optional<StoredResult> ParseStoredResult(const std::string& key, const std::string& value,
                                              std::string_view what_then);

// Thread-safe.
class ActionResultWriter {
 public:
  // Starts the flusher, which writes every `flush_interval` what is due. `store` is not owned and
  // outlives the writer.
  ActionResultWriter(storage::Store& store, absl::Duration flush_interval,
                     absl::Duration unsettled_hold);
  // Stop.
  ~ActionResultWriter();

  ActionResultWriter(const ActionResultWriter&) = delete;
  ActionResultWriter& operator=(const ActionResultWriter&) = delete;

  // Keeps `result` to be written as the target `agent_id` of `action_id` (replacing what waits
  // for it): with the next flush when `settled` or when what it replaces was due, else within the
  // hold. In memory only; quick.
  void Put(const std::string& action_id, const std::string& agent_id,
           const record::ActionResultRecord& result, bool settled);

  // Writes everything waiting now, due or not, in calls of at most kMaxResultsPerPut. Errors are
  // the store's: what was not written waits for the next flush (unless a newer Put replaced it).
  absl::Status Flush() { return Write(absl::InfiniteFuture()); }

  // Stops the flusher and flushes once more (errors logged). Idempotent.
  void Stop();

  // How many results wait to be written.
  size_t pending();

 private:
  struct Waiting {
    std::string value;  // the serialized record
    absl::Time due;     // written by the first flush at or after this
  };
  // Writes what is due at `now` (everything for InfiniteFuture).
  absl::Status Write(absl::Time now);
  void Run();

  storage::Store& store_;  // not owned
  const absl::Duration flush_interval_;
  const absl::Duration unsettled_hold_;

  absl::Mutex mu_;
  // Store key -> what waits to be written there.
  absl::flat_hash_map<std::string, Waiting> pending_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex flush_mu_;  // one flush at a time, so that batches land in order
  std::thread flusher_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_ACTION_RESULTS_H_
