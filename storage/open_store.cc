#include "storage/open_store.h"

#include "absl/strings/str_cat.h"
#include "storage/memory_store.h"
#include "storage/rocksdb/rocksdb_store.h"

namespace fleet::storage {

std::string StoreSpec::BackendName() const {
  return backend == Backend::kMemory ? "memory" : "rocksdb";
}

absl::StatusOr<StoreSpec> ParseStoreSpec(std::string_view flag, std::string_view spec) {
  constexpr std::string_view kRocksDb = "rocksdb:";
  constexpr std::string_view kMemory = "memory:";
  if (spec.starts_with(kRocksDb) && spec.size() > kRocksDb.size()) {
    return StoreSpec{.backend = StoreSpec::Backend::kRocksDb,
                     .path = std::string(spec.substr(kRocksDb.size()))};
  }
  if (spec == kMemory) return StoreSpec{.backend = StoreSpec::Backend::kMemory};
  return absl::InvalidArgumentError(absl::StrCat(std::string(flag),
                                                 " must be rocksdb:DIR or memory: (got \"",
                                                 std::string(spec.substr(0, 64)), "\")"));
}

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const StoreSpec& spec) {
  if (spec.backend == StoreSpec::Backend::kMemory) return NewMemoryStore();
  return OpenRocksDbStore(spec.path);
}

}  // namespace fleet::storage
