#include "storage/open/open_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "storage/etcd/etcd_store.h"
#include "storage/memory_store.h"
#include "storage/rocksdb/rocksdb_store.h"

namespace fleet::storage {
namespace {

// Whether `endpoint` is HOST:PORT (HOST a name, an IPv4 address or [IPv6]; PORT 1 to 65535).
bool IsHostPort(std::string_view endpoint) {
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view host = endpoint.substr(0, colon);
  if (host.front() == '[' ? host.back() != ']' : host.find(':') != std::string_view::npos) {
    return false;
  }
  int port = 0;
  return absl::SimpleAtoi(std::string(endpoint.substr(colon + 1)), &port) && port > 0 &&
         port < 65536;
}

}  // namespace

std::string StoreSpec::BackendName() const {
  switch (backend) {
    case Backend::kMemory:
      return "memory";
    case Backend::kEtcd:
      return "etcd";
    case Backend::kRocksDb:
      break;
  }
  return "rocksdb";
}

absl::StatusOr<StoreSpec> ParseStoreSpec(std::string_view flag, std::string_view spec) {
  constexpr std::string_view kRocksDb = "rocksdb:";
  constexpr std::string_view kMemory = "memory:";
  constexpr std::string_view kEtcd = "etcd://";
  if (spec.starts_with(kRocksDb) && spec.size() > kRocksDb.size()) {
    return StoreSpec{.backend = StoreSpec::Backend::kRocksDb,
                     .path = std::string(spec.substr(kRocksDb.size()))};
  }
  if (spec == kMemory) return StoreSpec{.backend = StoreSpec::Backend::kMemory};
  if (spec.starts_with(kEtcd)) {
    StoreSpec parsed{.backend = StoreSpec::Backend::kEtcd};
    for (absl::string_view piece : absl::StrSplit(
             absl::string_view(spec.data() + kEtcd.size(), spec.size() - kEtcd.size()), ',')) {
      const std::string_view endpoint(piece.data(), piece.size());
      if (!IsHostPort(endpoint)) {
        return absl::InvalidArgumentError(absl::StrCat(
            std::string(flag), ": \"", std::string(endpoint.substr(0, 64)),
            "\" is not HOST:PORT; give etcd's client endpoints as "
            "etcd://HOST:PORT[,HOST:PORT...], e.g. etcd://10.0.0.1:2379,10.0.0.2:2379"));
      }
      parsed.etcd.endpoints.emplace_back(endpoint);
    }
    return parsed;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(flag), " must be rocksdb:DIR, memory: or etcd://HOST:PORT[,HOST:PORT...] (got \"",
      std::string(spec.substr(0, 64)), "\")"));
}

absl::StatusOr<std::unique_ptr<Store>> OpenStore(const StoreSpec& spec,
                                                 const StoreOptions& options) {
  switch (spec.backend) {
    case StoreSpec::Backend::kMemory:
      return NewMemoryStore(options);
    case StoreSpec::Backend::kEtcd:
      return etcd::OpenEtcdStore({.connection = {.endpoints = spec.etcd.endpoints,
                                                 .tls = {.ca_file = spec.etcd.ca_file,
                                                         .cert_file = spec.etcd.cert_file,
                                                         .key_file = spec.etcd.key_file}},
                                  .key_prefix = spec.etcd.key_prefix,
                                  .max_txn_ops = spec.etcd.max_txn_ops,
                                  .max_request_bytes = spec.etcd.max_request_bytes,
                                  .store = options});
    case StoreSpec::Backend::kRocksDb:
      break;
  }
  return OpenRocksDbStore(spec.path, options);
}

}  // namespace fleet::storage
