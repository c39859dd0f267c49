// Keeps the store's revision log bounded: every interval, compacts everything older than the
// newest `retain` revisions. Watchers that fall further behind get the Compacted error and
// re-list (PolicyEngine, AgentHub and rollout watches all do).
#ifndef FLEETD_SERVER_APP_STORE_COMPACTOR_H_
#define FLEETD_SERVER_APP_STORE_COMPACTOR_H_

#include <cstdint>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "storage/store.h"

namespace fleet::server {

struct CompactorOptions {
  int64_t retain_revisions = 100'000;
  absl::Duration interval = absl::Minutes(1);
};

// Thread-safe.
class StoreCompactor {
 public:
  // Starts compacting `store` (not owned; outlives the compactor) every interval.
  StoreCompactor(storage::Store& store, CompactorOptions options);
  ~StoreCompactor();  // stops

  StoreCompactor(const StoreCompactor&) = delete;
  StoreCompactor& operator=(const StoreCompactor&) = delete;

  // Compacts now. Errors are the store's.
  absl::Status CompactNow();

 private:
  void Run();

  storage::Store& store_;  // not owned
  const CompactorOptions options_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_STORE_COMPACTOR_H_
