// Turns a store spec, as fleetd's --store flag takes it, into a Store:
//   rocksdb:DIR   the durable RocksDB store in DIR (storage/rocksdb/rocksdb_store.h)
//   memory:       an in-memory store that is gone when the process ends (tests, demos)
// (etcd: ENDPOINTS will follow with the etcd backend.)
#ifndef FLEETD_STORAGE_OPEN_STORE_H_
#define FLEETD_STORAGE_OPEN_STORE_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/store.h"

namespace fleet::storage {

// A parsed spec.
struct StoreSpec {
  enum class Backend { kRocksDb, kMemory };
  Backend backend = Backend::kRocksDb;
  std::string path;  // for kRocksDb: the directory

  // "rocksdb" or "memory".
  std::string BackendName() const;
};

// Parses `spec`. INVALID_ARGUMENT naming `flag` and saying what is accepted for anything else
// (an unknown backend, rocksdb: without a directory, memory: with one).
absl::StatusOr<StoreSpec> ParseStoreSpec(std::string_view flag, std::string_view spec);

// Opens the store `spec` names. Errors are the backend's (for RocksDB see rocksdb_store.h).
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const StoreSpec& spec);

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_OPEN_STORE_H_
