#include "storage/metered_store.h"

#include <utility>

namespace fleet::storage {

MeteredStore::MeteredStore(std::unique_ptr<Store> store, metrics::Histogram& txn_duration,
                           Clock& clock)
    : OwnedStore{std::move(store)},
      StoreWrapper(*owned),
      txn_duration_(txn_duration),
      clock_(clock) {}

absl::StatusOr<TxnResult> MeteredStore::Txn(const TxnRequest& request) {
  const absl::Time start = clock_.Now();
  absl::StatusOr<TxnResult> result = StoreWrapper::Txn(request);
  txn_duration_.Observe(absl::ToDoubleSeconds(clock_.Now() - start));
  return result;
}

}  // namespace fleet::storage
