#include "storage/txn_batches.h"

#include <algorithm>
#include <utility>

namespace fleet::storage {

absl::Status CommitInBatches(Store& store, std::vector<Op> ops, size_t max_ops) {
  const size_t most_ops = std::max<size_t>(1, std::min(max_ops, store.MaxTxnOps()));
  const size_t most_bytes = store.MaxTxnBytes();
  TxnRequest txn;
  size_t bytes = 0;
  auto commit = [&]() -> absl::Status {
    if (txn.success.empty()) return absl::OkStatus();
    absl::Status status = store.Txn(txn).status();
    txn.success.clear();
    bytes = 0;
    return status;
  };
  for (Op& op : ops) {
    const size_t size = op.key.size() + op.value.size();
    if (!txn.success.empty() && size > most_bytes - std::min(bytes, most_bytes)) {
      if (absl::Status s = commit(); !s.ok()) return s;
    }
    bytes += size;
    txn.success.push_back(std::move(op));
    if (txn.success.size() >= most_ops) {
      if (absl::Status s = commit(); !s.ok()) return s;
    }
  }
  return commit();
}

}  // namespace fleet::storage
