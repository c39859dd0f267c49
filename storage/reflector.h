// The one "list, then watch, then re-list" loop of fleetd (in the manner of Kubernetes
// client-go's Reflector): it keeps a handler's in-memory view of a key prefix current, and heals
// itself. It lists the prefix, hands the listing to the handler, then watches from the listing's
// revision and hands over every committed batch. On Compacted (it fell behind the log) or any
// other store error it logs, counts a restart, waits a jittered exponential backoff and lists
// again; it never gives up while it runs. `synced()` says whether the handler's view is current
// (listed and watching since the last error), for readiness.
#ifndef FLEETD_STORAGE_REFLECTOR_H_
#define FLEETD_STORAGE_REFLECTOR_H_

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/backoff.h"
#include "storage/store.h"

namespace fleet::storage {

// What a Reflector keeps current. Called on the reflector's thread only, one call at a time;
// calls must not block for long (they delay every later event of the prefix).
class ReflectorHandler {
 public:
  virtual ~ReflectorHandler() = default;

  // Every key under the listed prefix as of `revision`, in key order: replaces all the handler
  // knew (the first listing, or a re-listing after an error, when events may have been missed).
  virtual void Replace(const std::vector<KeyValue>& kvs, int64_t revision) = 0;

  // Committed changes under the watched prefix after the previous Replace or Apply, in revision
  // order, whole transactions at a time.
  virtual void Apply(const WatchBatch& batch) = 0;
};

struct ReflectorOptions {
  // Names the loop in logs ("policy engine", "agent directory", ...).
  std::string name;
  // The keys watched.
  std::string prefix;
  // The keys listed, when only part of `prefix` is needed to rebuild the view (the rest is
  // read on demand); empty means `prefix`.
  std::string list_prefix;
  // Between a failure and the next listing; grows to max and resets once synced again.
  BackoffOptions backoff = {.initial = absl::Milliseconds(100), .max = absl::Seconds(10)};
  // How long one watch wait lasts; bounds how long stopping takes.
  absl::Duration poll = absl::Milliseconds(200);
};

// Thread-safe.
class Reflector {
 public:
  // Starts the loop on a thread of its own. `store` and `handler` are not owned and outlive the
  // reflector.
  Reflector(Store& store, ReflectorHandler& handler, ReflectorOptions options);
  // Stops the loop; no handler call runs after it returns.
  ~Reflector();

  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  // Whether the handler's view is current: listed, and watching without error since.
  bool synced();
  // Waits up to `timeout` for synced(); returns it.
  bool WaitSynced(absl::Duration timeout);
  // How many times the loop started over after an error (compactions included).
  int64_t restarts();
  // The newest revision the handler has seen (listing or batch); 0 before the first listing.
  int64_t revision();
  // Waits up to `timeout` until the handler has seen `revision`; returns whether it has.
  bool WaitForRevision(int64_t revision, absl::Duration timeout);

 private:
  void Run();
  // Lists and watches until an error or stop; returns the error (OK when stopping).
  absl::Status ListAndWatch();
  bool stopping();

  Store& store_;               // not owned
  ReflectorHandler& handler_;  // not owned
  const ReflectorOptions options_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  int64_t restarts_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  // The watch in progress, cancelled by the destructor.
  Watcher* watcher_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_REFLECTOR_H_
