// Helpers for Store tests: short transactions and draining watchers.
#ifndef FLEETD_TESTS_STORAGE_STORE_TEST_UTIL_H_
#define FLEETD_TESTS_STORAGE_STORE_TEST_UTIL_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/store.h"

namespace fleet::storage {

// Puts key=value unconditionally; returns the commit revision.
absl::StatusOr<int64_t> Put(Store& store, const std::string& key, const std::string& value);

// Collects batches from `watcher` until it has delivered `revision`, or fails after `timeout`.
absl::StatusOr<std::vector<WatchBatch>> CollectThrough(Watcher& watcher, int64_t revision,
                                                       absl::Duration timeout = absl::Seconds(30));

// The events of `batches`, flattened in order.
std::vector<Event> Flatten(const std::vector<WatchBatch>& batches);

}  // namespace fleet::storage

#endif  // FLEETD_TESTS_STORAGE_STORE_TEST_UTIL_H_
