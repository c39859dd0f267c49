// A Store that times its transactions into a histogram (fleetd_store_txn_duration_seconds):
// a StoreWrapper that owns the store it wraps, so that the composition root can hand it out in
// the store's place.
#ifndef FLEETD_STORAGE_METERED_STORE_H_
#define FLEETD_STORAGE_METERED_STORE_H_

#include <memory>

#include "common/clock.h"
#include "common/metrics/histogram.h"
#include "storage/store_wrapper.h"

namespace fleet::storage {

namespace internal {
// Holds the wrapped store, as a base constructed before StoreWrapper so that it outlives it.
struct OwnedStore {
  std::unique_ptr<Store> owned;
};
}  // namespace internal

// Thread-safe as the wrapped store is.
class MeteredStore final : private internal::OwnedStore, public StoreWrapper {
 public:
  // Owns `store` (not null). `txn_duration` and `clock` are not owned and outlive this.
  MeteredStore(std::unique_ptr<Store> store, metrics::Histogram& txn_duration, Clock& clock);

  // Every call, failed ones included, is timed from its start to its return.
  absl::StatusOr<TxnResult> Txn(const TxnRequest& request) override;

 private:
  metrics::Histogram& txn_duration_;  // not owned
  Clock& clock_;                      // not owned
};

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_METERED_STORE_H_
