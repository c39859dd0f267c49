// Turns committed policy revisions into the updates agents need. The engine follows the store's
// policy keys with a Reflector (storage/reflector.h), whoever committed them (this fleetd or,
// later, another replica through etcd), and tells a listener when a policy has a new latest
// revision. For an agent at (policy, revision, hash) it hands out the update to the latest
// revision: a DELTA (an RFC 6902 patch) when the agent's revision is still retained and its hash
// matches, else a FULL document. Each update is computed and serialized once per (policy, from,
// to) and shared by every agent that needs it: the fan-out path does no per-agent JSON work.
//
// UpdateFor runs on completion-queue threads, so it never blocks: it answers from memory. The
// FULL update and the DELTA from the previous latest revision are prepared on the engine's
// thread before the listener hears of a change, so that a fan-out finds them ready. Any other
// base (an agent coming back from further behind) is loaded and diffed on the engine's worker
// thread, and the listener hears of the policy again once it is ready.
//
// Parsed revisions are cached, bounded by count (8 per policy) and by bytes (their parsed size,
// json_footprint.h, and canonical text, over all policies): when either is exceeded the least
// recently used revision that is not its policy's latest goes. The latest of each policy always
// stays, since every fan-out needs it; so the cache outgrows its byte bound only when the latest
// revisions alone take more.
#ifndef FLEETD_SERVER_CONTROL_POLICY_ENGINE_H_
#define FLEETD_SERVER_CONTROL_POLICY_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/control/policy_content.h"
#include "server/control/update_source.h"
#include "server/model/records.pb.h"
#include "storage/reflector.h"
#include "storage/store.h"

namespace fleet::server {

// The default byte bound of the revision cache (fleetd's --revision-cache-bytes).
inline constexpr int64_t kDefaultRevisionCacheBytes = int64_t{256} << 20;

// Thread-safe.
class PolicyEngine final : public UpdateSource, private storage::ReflectorHandler {
 public:
  // Called each time `policy` gets a new latest revision (0 when the policy was deleted), after
  // every listing of the store, and again when an update UpdateFor answered UNAVAILABLE for is
  // ready. Called from the engine's two threads, never under its lock; `latest_revision` is the
  // latest as the engine saw it just before the call. Must not block for long.
  using Listener = std::function<void(const std::string& policy, int64_t latest_revision)>;

  // Starts following the policies in `store` and waits up to `sync_timeout` for the first
  // listing; parsed revisions are cached up to `cache_bytes` (see the file comment). `store` is
  // not owned and outlives the engine. UNAVAILABLE, with the store's error, when the listing did
  // not succeed in time.
  static absl::StatusOr<std::unique_ptr<PolicyEngine>> Start(
      storage::Store& store, Listener listener, absl::Duration sync_timeout = absl::Seconds(30),
      int64_t cache_bytes = kDefaultRevisionCacheBytes);
  // Stops following the store.
  ~PolicyEngine() override;

  PolicyEngine(const PolicyEngine&) = delete;
  PolicyEngine& operator=(const PolicyEngine&) = delete;

  // The latest revision of `policy`, 0 when there is no such policy.
  int64_t LatestRevision(const std::string& policy);

  // See UpdateSource. Never blocks.
  absl::StatusOr<PreparedUpdatePtr> UpdateFor(const std::string& policy,
                                              const AgentPosition& from) override;

  // Whether the engine's view of the policies is current (for readiness), and how often its
  // watch started over.
  bool synced() { return reflector_->synced(); }
  bool WaitSynced(absl::Duration timeout) { return reflector_->WaitSynced(timeout); }
  int64_t restarts() { return reflector_->restarts(); }

  // How many updates were computed (not served from the cache) so far; for tests and metrics.
  int64_t updates_computed();
  // What the cached parsed revisions take, all of them and those besides each policy's latest;
  // for tests and metrics.
  struct CacheSize {
    int64_t bytes = 0;
    int64_t old_bytes = 0;  // of revisions that are not their policy's latest
    int64_t revisions = 0;
  };
  CacheSize cache_size();

 private:
  // An update prepared from a base, and the hash of the content it was diffed from: an agent gets
  // it only if it holds that content.
  struct Prepared {
    std::string base_sha256;  // empty for the FULL update
    PreparedUpdatePtr update;
  };
  // A parsed revision in the cache.
  struct Cached {
    PolicyContentPtr content;
    int64_t bytes = 0;  // what it takes in memory
    uint64_t used = 0;  // when it was last used, on the engine's use counter
  };
  struct PolicyState {
    // The create_revision of the head key: a policy deleted and made again starts over at
    // revision 1 with other content, and nothing of its former life may be served.
    int64_t created = 0;
    int64_t latest = 0;
    int64_t oldest = 0;  // the oldest retained revision (older ones were pruned)
    // Recently used revisions, the latest always among them once loaded; change it only through
    // Cache, Uncache and Forget, which keep cached_bytes_.
    std::map<int64_t, Cached> revisions;
    // Retained revisions the store did not have (or could not parse): their agents get FULL.
    std::set<int64_t> missing;
    // Whether `latest` cannot be loaded (DATA_LOSS: it does not parse, or a revision stored
    // before the limit applied to the canonical form is over it): UpdateFor then says so instead
    // of asking the worker again and again. Cleared when latest moves.
    bool latest_unservable = false;
    // Updates to `latest`, by base revision; 0 is the FULL one. Dropped when latest moves.
    std::map<int64_t, Prepared> updates;
  };
  // Work for the worker: the update of `policy` from `base` (0: the latest content itself).
  using Job = std::pair<std::string, int64_t>;

  PolicyEngine(storage::Store& store, Listener listener, int64_t cache_bytes);

  // storage::ReflectorHandler, on the reflector's thread.
  void Replace(const std::vector<storage::KeyValue>& heads, int64_t revision) override;
  void Apply(const storage::WatchBatch& batch) override;

  // Applies one committed change of a policy key (`content`: the revision it holds, parsed
  // outside the lock), noting in `changed` a policy whose latest revision moved.
  void ApplyEvent(const storage::Event& event, PolicyContentPtr content,
                  std::map<std::string, int64_t>& changed) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies a head (at key create_revision `created`) to `state`; returns whether the latest
  // revision moved.
  bool ApplyHead(const record::PolicyHead& head, int64_t created, PolicyState& state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Prepares the FULL update of each policy in `changed` and the DELTA from its previous latest
  // revision, outside the lock, then tells the listener.
  void PrepareAndAnnounce(const std::map<std::string, int64_t>& changed,
                          const std::map<std::string, int64_t>& previous);
  // Keeps `content` in `state`, then drops least recently used revisions other than the latest
  // while the policy has more than its count or the cache more than its bytes.
  void Cache(PolicyState& state, PolicyContentPtr content) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The cached content of `revision` in `state` (marked used now), or nullptr.
  PolicyContentPtr Find(PolicyState& state, int64_t revision) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops a cached revision, or all of a policy's (before it goes).
  void Uncache(PolicyState& state, std::map<int64_t, Cached>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Forget(PolicyState& state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The least recently used cached revision that is not its policy's latest, if any: of `only`
  // when given, else of any policy.
  std::pair<PolicyState*, std::map<int64_t, Cached>::iterator> LeastRecentlyUsed(PolicyState* only)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues a job for the worker unless it is queued already.
  void Request(const std::string& policy, int64_t base) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The worker's loop: loads and prepares what UpdateFor could not answer from memory.
  void Work();
  // Does one job; false when the store failed (it is tried again later).
  bool Do(const Job& job);
  // Reads a revision's content from the store: nullptr when it is not there.
  absl::StatusOr<PolicyContentPtr> Load(const std::string& policy, int64_t revision);
  // Stores `update`, made from `base` (nullptr: FULL), if `latest` is still the policy's latest
  // revision.
  void Keep(const std::string& policy, int64_t latest, const PolicyContent* base,
            PreparedUpdatePtr update) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  storage::Store& store_;  // not owned
  const Listener listener_;
  const int64_t cache_bytes_;

  absl::Mutex mu_;
  std::map<std::string, PolicyState> policies_ ABSL_GUARDED_BY(mu_);
  int64_t updates_computed_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t cached_bytes_ ABSL_GUARDED_BY(mu_) = 0;  // of every policy's cached revisions
  uint64_t uses_ ABSL_GUARDED_BY(mu_) = 0;         // the use counter of Cached::used
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::set<Job> queued_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
  // Last: destroyed first, so that no handler call runs once the rest goes.
  std::unique_ptr<storage::Reflector> reflector_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_POLICY_ENGINE_H_
