#include "tests/storage/store_test_util.h"

#include "absl/strings/str_cat.h"

namespace fleet::storage {

absl::StatusOr<int64_t> Put(Store& store, const std::string& key, const std::string& value) {
  absl::StatusOr<TxnResult> result = store.Txn({.success = {Op::Put(key, value)}});
  if (!result.ok()) return result.status();
  return result->revision;
}

absl::StatusOr<std::vector<WatchBatch>> CollectThrough(Watcher& watcher, int64_t revision,
                                                       absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::vector<WatchBatch> batches;
  int64_t seen = -1;
  while (seen < revision) {
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("watch reached revision ", seen, ", not ", revision));
    }
    absl::StatusOr<WatchBatch> batch = watcher.Next(absl::Milliseconds(200));
    if (!batch.ok()) return batch.status();
    seen = batch->revision;
    if (!batch->events.empty()) batches.push_back(*std::move(batch));
  }
  return batches;
}

std::vector<Event> Flatten(const std::vector<WatchBatch>& batches) {
  std::vector<Event> events;
  for (const WatchBatch& batch : batches) {
    events.insert(events.end(), batch.events.begin(), batch.events.end());
  }
  return events;
}

}  // namespace fleet::storage
