// A Store that meters what it is asked to do: it times its transactions into a histogram
// (fleetd_store_txn_duration_seconds) and counts its unlogged-state writes (PutState calls and
// the keys they put or deleted, by the first segment of the key), so that /metrics shows how many
// store writes a piece of work caused. A StoreWrapper that owns the store it wraps, so that the
// composition root can hand it out in the store's place.
#ifndef FLEETD_STORAGE_METERED_STORE_H_
#define FLEETD_STORAGE_METERED_STORE_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/metrics/histogram.h"
#include "common/metrics/registry.h"
#include "storage/store_wrapper.h"

namespace fleet::storage {

namespace internal {
// Holds the wrapped store, as a base constructed before StoreWrapper so that it outlives it.
struct OwnedStore {
  std::unique_ptr<Store> owned;
};
}  // namespace internal

// Where a MeteredStore records; not owned, outlive it.
struct StoreInstruments {
  // Txn calls, failed ones included, from start to return.
  metrics::Histogram& txn_duration;
  // PutState calls, failed ones included, with one label, "prefix" (StateKeyPrefix): a call
  // counts once under each prefix it put or deleted keys under.
  metrics::Family<metrics::Counter>& state_writes;
  // The keys those calls put or deleted, by the same label.
  metrics::Family<metrics::Counter>& state_keys;
};

// The instruments of fleetd's store in `registry`: fleetd_store_txn_duration_seconds (buckets
// `txn_bounds`), fleetd_store_state_writes_total and fleetd_store_state_keys_total.
StoreInstruments AddStoreInstruments(metrics::Registry& registry, std::vector<double> txn_bounds);

// The first segment of a store key, the label of the state counters: "action_results" for
// "/action_results/ID/AGENT", "health_probe" for "/health_probe"; the whole key (without a
// leading '/') when it has no other '/'. Store keys come from a fixed layout, so the label's
// values are few.
std::string_view StateKeyPrefix(std::string_view key);

// Thread-safe as the wrapped store is.
class MeteredStore final : private internal::OwnedStore, public StoreWrapper {
 public:
  // Owns `store` (not null). `instruments` and `clock` are not owned and outlive this.
  MeteredStore(std::unique_ptr<Store> store, StoreInstruments instruments, Clock& clock);

  // Every call, failed ones included, is timed from its start to its return.
  absl::StatusOr<TxnResult> Txn(const TxnRequest& request) override;
  // Every call, failed ones included, is counted with its keys (StoreInstruments).
  absl::Status PutState(const std::vector<std::pair<std::string, std::string>>& puts,
                        const std::vector<std::string>& deletes) override;

 private:
  StoreInstruments instruments_;  // its references not owned
  Clock& clock_;                  // not owned
};

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_METERED_STORE_H_
