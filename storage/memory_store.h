// A Store held entirely in memory: the reference backend for fast tests. Nothing survives the
// object. Same contract as every backend (store.h).
#ifndef FLEETD_STORAGE_MEMORY_STORE_H_
#define FLEETD_STORAGE_MEMORY_STORE_H_

#include <memory>

#include "storage/store.h"

namespace fleet::storage {

std::unique_ptr<Store> NewMemoryStore(const StoreOptions& options = {});

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_MEMORY_STORE_H_
