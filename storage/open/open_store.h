// Turns a store spec, as fleetd's --store flag takes it, into a Store:
//   rocksdb:DIR                        the durable RocksDB store in DIR
//                                      (storage/rocksdb/rocksdb_store.h)
//   memory:                            an in-memory store, gone when the process ends (tests,
//                                      demos)
//   etcd://HOST:PORT[,HOST:PORT...]    the etcd store on that cluster, shared by several fleetd
//                                      replicas (storage/etcd/etcd_store.h); EtcdSpec says how
#ifndef FLEETD_STORAGE_OPEN_OPEN_STORE_H_
#define FLEETD_STORAGE_OPEN_OPEN_STORE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/store.h"

namespace fleet::storage {

// How to reach and use an etcd cluster (fleetd's --etcd-* flags).
struct EtcdSpec {
  std::vector<std::string> endpoints;  // from the spec
  // PEM files for a TLS etcd (--etcd-ca, --etcd-cert, --etcd-key); all empty for plaintext.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  // The fleet's key prefix (--etcd-prefix), so several fleets can share a cluster.
  std::string key_prefix = "/fleetd/";
  // The cluster's --max-txn-ops and --max-request-bytes (--etcd-max-txn-ops,
  // --etcd-max-request-bytes); etcd's defaults unless the cluster was started with others.
  size_t max_txn_ops = 128;
  size_t max_request_bytes = 1536 * 1024;
};

// A parsed spec.
struct StoreSpec {
  enum class Backend { kRocksDb, kMemory, kEtcd };
  Backend backend = Backend::kRocksDb;
  std::string path;  // for kRocksDb: the directory
  EtcdSpec etcd;     // for kEtcd

  // "rocksdb", "memory" or "etcd".
  std::string BackendName() const;
};

// Parses `spec`. INVALID_ARGUMENT naming `flag` and saying what is accepted for anything else
// (an unknown backend, rocksdb: without a directory, memory: with one, etcd:// without endpoints
// or with one that is not HOST:PORT).
absl::StatusOr<StoreSpec> ParseStoreSpec(std::string_view flag, std::string_view spec);

// Opens the store `spec` names. Errors are the backend's (rocksdb_store.h, etcd_store.h).
absl::StatusOr<std::unique_ptr<Store>> OpenStore(const StoreSpec& spec,
                                                 const StoreOptions& options = {});

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_OPEN_OPEN_STORE_H_
