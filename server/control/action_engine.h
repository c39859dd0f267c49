// The actions of the fleet (admin.proto "Actions", agent.proto AgentAction), in memory: every
// action this fleetd's store holds, followed by a Reflector on its /actions/ and /action_targets/
// keys (whoever committed them: this fleetd's CreateAction and CancelAction or another replica's),
// with the state of each of its targets. It posts each action to its targets' mailboxes
// (agent_mailbox.h; one serialization shared by all), each due at its place in the rollout
// (target i of n at created_at + rollout_duration * i / n), takes what the agents' streams report
// (MailSender::Delivered: pending -> delivered; ActionReportSink: the agents' ActionStatus), turns
// what is not final into expired at expires_at and into cancelled (or sends an ActionCancel to
// those that have it) once a cancel is committed, and hands every change to an
// ActionResultWriter (action_results.h), which batches them into the store's unlogged state; on
// Start they are read back, so that results survive a restart. On a shared store (several
// replicas) results are revisioned keys that every replica's engine follows: each replica writes
// what its own agents reported and takes the others' from the store, and derives expiry and
// cancel from the action itself, so that the counts agree on every replica.
//
// Target states (admin.proto ActionTargetState): pending -> delivered -> running -> succeeded |
// failed | rejected | cancelled, or expired when not final at expires_at. A final state never
// changes; a report that would move a target backwards (ACCEPTED after RUNNING) keeps its state
// but its progress and message are taken. Each target is in exactly one state, so an action's
// counts always add up to its targets.
#ifndef FLEETD_SERVER_CONTROL_ACTION_ENGINE_H_
#define FLEETD_SERVER_CONTROL_ACTION_ENGINE_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "server/control/action_results.h"
#include "server/control/agent_mailbox.h"
#include "server/control/agent_reports.h"
#include "server/model/records.pb.h"
#include "storage/reflector.h"
#include "storage/store.h"

namespace fleet::server {

struct ActionEngineOptions {
  // How often changed results are written (action_results.h).
  absl::Duration flush_interval = absl::Milliseconds(250);
  // How long a change of a target that has the action and has not finished (delivered to
  // running, progress) may wait for its next change before it is written (action_results.h).
  absl::Duration unsettled_hold = absl::Seconds(3);
  // The longest the expiry timer sleeps before it looks at the clock again.
  absl::Duration expiry_poll = absl::Seconds(1);
};

// One target of an action as the engine has it.
struct ActionTargetView {
  std::string agent_id;
  v1::ActionTargetState state = v1::ACTION_TARGET_PENDING;
  int32_t progress_percent = 0;
  std::string message;
  std::string output;
  // When it last changed; InfinitePast while it never did.
  absl::Time updated_at = absl::InfinitePast();
  // When it may be sent: its place in the rollout.
  absl::Time start_at;
};

struct ActionTargetPage {
  std::vector<ActionTargetView> targets;
  // The last agent id of the page when more targets may follow; empty otherwise.
  std::string next_after;
};

// Thread-safe. Reports and deliveries take one lock briefly and never do I/O; the mailbox is
// called outside that lock.
class ActionEngine final : public ActionReportSink,
                           public MailSender,
                           private storage::ReflectorHandler {
 public:
  // `store`, `clock` and `mailbox` are not owned and outlive the engine. Nothing is read until
  // Start.
  ActionEngine(storage::Store& store, Clock& clock, AgentMailbox& mailbox,
               ActionEngineOptions options = {});
  // Stop.
  ~ActionEngine() override;

  ActionEngine(const ActionEngine&) = delete;
  ActionEngine& operator=(const ActionEngine&) = delete;

  // Reads the stored results, then starts following the store and waits up to `sync_timeout` for
  // the first listing (every action then posted to its unfinished targets). Errors: the store's;
  // UNAVAILABLE when the listing did not succeed in time.
  absl::Status Start(absl::Duration sync_timeout = absl::Seconds(30));
  // Stops following the store and the expiry timer, and writes the results not written yet.
  // Idempotent. Reports that come later change the memory only.
  void Stop();

  // The action with its counts and `done`; nullopt when the engine does not know it.
  std::optional<v1::Action> Get(const std::string& id);
  // The same with the version of its state, which moves with every change of its targets or
  // its record.
  std::optional<std::pair<v1::Action, int64_t>> GetVersioned(const std::string& id);
  // Waits up to `timeout` until the version of action `id` is other than `version`; returns the
  // version then (0 when the engine does not know the action).
  int64_t AwaitChange(const std::string& id, int64_t version, absl::Duration timeout);
  // Every action known with its counts, newest first (created_at, then id, descending).
  std::vector<v1::Action> List();
  // The targets of action `id` in agent id order, after agent `after` (empty: from the first),
  // at most `limit`, only those in `state` unless it is ACTION_TARGET_STATE_UNSPECIFIED; nullopt
  // when the engine does not know the action.
  std::optional<ActionTargetPage> Targets(const std::string& id, v1::ActionTargetState state,
                                          const std::string& after, size_t limit);

  // Waits up to `timeout` until the engine has seen the store up to `revision`.
  bool WaitForRevision(int64_t revision, absl::Duration timeout);
  bool synced() { return reflector_ != nullptr && reflector_->synced(); }

  // Turns the unfinished targets of actions whose expires_at passed into expired. The timer
  // calls it; tests with a ManualClock call it after moving the clock.
  void ExpireDue();
  // Writes the changed results now (action_results.h).
  absl::Status FlushResults() { return writer_.Flush(); }

  // ActionReportSink.
  absl::Status ActionStatusReported(const std::string& agent_id,
                                    const v1::ActionStatus& status) override;
  // MailSender: a pending target whose action was written to its stream is delivered.
  void Delivered(const std::string& agent_id, const Mail& mail) override;

 private:
  static constexpr size_t kStates = 9;  // ActionTargetState values, UNSPECIFIED included

  // 16 bytes a target; message and output, rare, in Entry::details.
  struct Target {
    uint8_t state = v1::ACTION_TARGET_PENDING;
    // Cancelled by a cancel before it was delivered: a delivery that was on its way meanwhile
    // is followed by an ActionCancel.
    bool cancelled_undelivered = false;
    int8_t progress = 0;
    int64_t updated_us = 0;
  };
  struct Detail {
    std::string message;
    std::string output;
  };
  struct Entry {
    v1::Action action;  // as committed: counts and done unset
    absl::Time created_at;
    absl::Time expires_at;
    absl::Duration rollout;
    std::vector<std::string> agent_ids;  // in the record's (the rollout's) order
    absl::flat_hash_map<std::string, uint32_t> index;
    std::vector<Target> targets;
    absl::flat_hash_map<uint32_t, Detail> details;
    // Target indexes in agent id order.
    std::vector<uint32_t> by_id;
    std::array<int64_t, kStates> counts{};
    MailPtr mail;
    MailPtr cancel_mail;
    bool cancel_applied = false;
    bool expiry_applied = false;
    int64_t version = 1;

    bool done() const {
      return counts[v1::ACTION_TARGET_PENDING] + counts[v1::ACTION_TARGET_DELIVERED] +
                 counts[v1::ACTION_TARGET_RUNNING] ==
             0;
    }
  };
  // An action's keys seen before all of them (they come in one transaction; a listing may split
  // it only when it runs across pages at different revisions).
  struct Staged {
    std::optional<record::ActionRecord> head;
    std::map<int, std::vector<std::string>> chunks;
  };
  // What to tell the mailbox once the lock is released.
  struct MailOps {
    std::vector<std::pair<MailPtr, std::vector<std::pair<std::string, absl::Time>>>> posts;
    std::vector<std::pair<std::string, std::pair<Mail::Kind, std::string>>> removes;
  };

  void Replace(const std::vector<storage::KeyValue>& kvs, int64_t revision) override;
  void Apply(const storage::WatchBatch& batch) override;
  // Takes a put of one key of the listing (`listing`) or the watch into staged_ or the known
  // actions; notes in `touched` an action id staged.
  void Take(const storage::KeyValue& kv, std::vector<std::string>& touched, MailOps& ops,
            bool listing) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes the staged action `id` known once all its keys came: restores its results, posts it.
  void TryMaterialize(const std::string& id, MailOps& ops) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A newer record of a known action: applies a cancel.
  void UpdateHead(Entry& entry, const record::ActionRecord& head, MailOps& ops)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyCancel(Entry& entry, MailOps& ops) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyExpiry(Entry& entry, MailOps& ops) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Drop(const std::string& id, MailOps& ops) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves target `i` to `state` (counts follow), stamped `now`, and hands it to the writer, unless
  // `derived` (expiry or cancel, which every replica derives from the action itself) on a shared
  // store, where each replica writes only what its own agents reported.
  void SetState(const std::string& action_id, Entry& entry, uint32_t i, v1::ActionTargetState state,
                absl::Time now, bool derived = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Shared store: a result a replica wrote for target `i` (another replica's agent, or this
  // replica's own write coming back): taken when it moves the target on, or when it is a final
  // report of the agent where this replica derived expiry or cancel.
  void TakeStoredResult(Entry& entry, uint32_t i, const record::ActionResultRecord& result,
                        MailOps& ops) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Hands target `i` as it is to the writer; `settled` as ActionResultWriter::Put takes it.
  void Persist(const std::string& action_id, Entry& entry, uint32_t i, bool settled)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::Action View(const Entry& entry) const;
  ActionTargetView TargetView(const Entry& entry, uint32_t i) const;
  void Run(MailOps& ops);
  void RunTimer();

  storage::Store& store_;  // not owned
  Clock& clock_;           // not owned
  // Whether other replicas share the store (then results come from the store too).
  const bool shared_;
  AgentMailbox& mailbox_;  // not owned
  const ActionEngineOptions options_;
  ActionResultWriter writer_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Entry>> actions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Staged> staged_ ABSL_GUARDED_BY(mu_);
  // Read at Start, taken by each action as the first listing makes it known.
  StoredActionResults restored_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::unique_ptr<storage::Reflector> reflector_;
  std::thread timer_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_ACTION_ENGINE_H_
