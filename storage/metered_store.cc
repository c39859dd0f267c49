#include "storage/metered_store.h"

#include <cstdint>
#include <utility>

namespace fleet::storage {
namespace {

// Keys per prefix in one PutState call; a call touches a few prefixes at most, so a flat vector
// beats a map.
class PrefixCounts {
 public:
  void Add(std::string_view key) {
    const std::string_view prefix = StateKeyPrefix(key);
    for (std::pair<std::string_view, uint64_t>& entry : counts_) {
      if (entry.first == prefix) {
        ++entry.second;
        return;
      }
    }
    counts_.emplace_back(prefix, 1);
  }
  const std::vector<std::pair<std::string_view, uint64_t>>& counts() const { return counts_; }

 private:
  std::vector<std::pair<std::string_view, uint64_t>> counts_;
};

}  // namespace

StoreInstruments AddStoreInstruments(metrics::Registry& registry, std::vector<double> txn_bounds) {
  return StoreInstruments{
      .txn_duration =
          registry.AddHistogram("fleetd_store_txn_duration_seconds",
                                "Time a store transaction takes, failed ones included, in seconds.",
                                std::move(txn_bounds)),
      .state_writes = registry.AddCounterFamily(
          "fleetd_store_state_writes_total",
          "Writes of unlogged state (PutState calls, failed ones included), by the first "
          "segment of the keys written; a call counts under each segment it wrote.",
          {"prefix"}),
      .state_keys = registry.AddCounterFamily(
          "fleetd_store_state_keys_total",
          "Keys put or deleted by unlogged-state writes, by their first segment.", {"prefix"}),
  };
}

std::string_view StateKeyPrefix(std::string_view key) {
  if (!key.empty() && key.front() == '/') key.remove_prefix(1);
  return key.substr(0, key.find('/'));
}

MeteredStore::MeteredStore(std::unique_ptr<Store> store, StoreInstruments instruments, Clock& clock)
    : OwnedStore{std::move(store)},
      StoreWrapper(*owned),
      instruments_(instruments),
      clock_(clock) {}

absl::StatusOr<TxnResult> MeteredStore::Txn(const TxnRequest& request) {
  const absl::Time start = clock_.Now();
  absl::StatusOr<TxnResult> result = StoreWrapper::Txn(request);
  instruments_.txn_duration.Observe(absl::ToDoubleSeconds(clock_.Now() - start));
  return result;
}

absl::Status MeteredStore::PutState(const std::vector<std::pair<std::string, std::string>>& puts,
                                    const std::vector<std::string>& deletes) {
  absl::Status status = StoreWrapper::PutState(puts, deletes);
  PrefixCounts counts;
  for (const auto& [key, value] : puts) counts.Add(key);
  for (const std::string& key : deletes) counts.Add(key);
  // WithLabels takes the family's lock: once per prefix of the call, not per key.
  for (const auto& [prefix, keys] : counts.counts()) {
    const std::string label(prefix);
    instruments_.state_writes.WithLabels({label}).Increment();
    instruments_.state_keys.WithLabels({label}).Increment(keys);
  }
  return status;
}

}  // namespace fleet::storage
