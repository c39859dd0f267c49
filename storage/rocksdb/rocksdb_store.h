// The default, embedded Store backend on RocksDB. Column families: "kv" (current state of every
// key), "log" (one record per revision: the revision log watchers catch up from) and "meta"
// (format marker, current and compaction revisions). Each Txn is one WriteBatch written with
// sync=true; concurrent Txns are committed in groups that share one write and one fsync.
#ifndef FLEETD_STORAGE_ROCKSDB_ROCKSDB_STORE_H_
#define FLEETD_STORAGE_ROCKSDB_ROCKSDB_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/store.h"

namespace fleet::storage {

// Opens the store in directory `path`, creating it (and missing parents) when absent or empty,
// and recovering whatever the last process committed. Errors, each naming the path:
// FAILED_PRECONDITION when the directory holds something that is not a fleetd store, or a store
// of an unknown format, or is in use by another process; DATA_LOSS when the store is corrupt;
// UNAVAILABLE for I/O errors. Never crashes on bad data.
absl::StatusOr<std::unique_ptr<Store>> OpenRocksDbStore(const std::string& path,
                                                        const StoreOptions& options = {});

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_ROCKSDB_ROCKSDB_STORE_H_
