// The Store backends the contract suites run against, each behind the same small interface:
// Open() a store (again, for durable backends, on the same data).
#ifndef FLEETD_TESTS_STORAGE_STORE_BACKENDS_H_
#define FLEETD_TESTS_STORAGE_STORE_BACKENDS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/memory_store.h"
#include "storage/rocksdb/rocksdb_store.h"
#include "storage/store.h"
#include "tests/testing/temp_dir.h"

namespace fleet::storage {

struct MemoryBackend {
  static constexpr char kName[] = "memory";
  absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options) {
    return NewMemoryStore(options);
  }
};

struct RocksDbBackend {
  static constexpr char kName[] = "rocksdb";
  absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options) {
    return OpenRocksDbStore(path(), options);
  }
  std::string path() const { return dir.Sub("store"); }
  testing::TempDir dir;
};

}  // namespace fleet::storage

#endif  // FLEETD_TESTS_STORAGE_STORE_BACKENDS_H_
