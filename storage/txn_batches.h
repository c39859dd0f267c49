// Many independent writes committed in as few transactions as a store takes: for callers that
// publish a batch of unrelated keys (an agent state flush, a live query's asks), where each
// write stands alone and atomicity across them is not wanted.
#ifndef FLEETD_STORAGE_TXN_BATCHES_H_
#define FLEETD_STORAGE_TXN_BATCHES_H_

#include <cstddef>
#include <vector>

#include "absl/status/status.h"
#include "storage/store.h"
#include "storage/types.h"

namespace fleet::storage {

// Commits `ops` in order, without compares, in transactions of at most `max_ops` ops (and the
// store's MaxTxnOps()) and at most the store's MaxTxnBytes() of keys and values; an op larger than
// that alone goes in a transaction of its own (which the store refuses if it must). Not atomic
// as a whole: it stops at the first error and returns it, the transactions before it committed.
absl::Status CommitInBatches(Store& store, std::vector<Op> ops, size_t max_ops);

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_TXN_BATCHES_H_
