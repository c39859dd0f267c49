// The Store (storage/store.h) on an etcd cluster, for several fleetd replicas sharing one fleet:
// `--store etcd://HOST:PORT[,HOST:PORT...]`.
//
// How the contract maps onto etcd's v3 API:
//  - Revisions are etcd's. A transaction that changes something gets a revision above every
//    earlier one; they are consecutive only while nothing else writes to the cluster (another
//    fleet sharing it, or this fleet's unlogged state, takes revisions too).
//  - Txn is one etcd Txn: compares, then one branch, atomically. etcd refuses more ops per branch
//    than its --max-txn-ops; so does this store (INVALID_ARGUMENT naming the limit) rather than
//    split a transaction, which would no longer be atomic. Set `max_txn_ops` to the cluster's.
//  - Range pages with etcd's limit; a listing without a limit is read in pages at one revision.
//  - Watch is an etcd watch (see etcd_watcher.h); watching from before etcd's compaction point
//    is the Compacted error. Compact compacts etcd's history, the whole cluster's.
//  - Unlogged state is ordinary etcd keys under a range no watch follows, written in
//    transactions of at most `max_txn_ops` keys and `max_request_bytes`: a PutState larger than
//    that is atomic per transaction, not as a whole.
//  - CurrentRevision is the newest revision of this fleet's keys that the store has seen: its
//    own commits and what its watchers delivered (with no watcher open, other replicas' commits
//    show only as this store reads or writes).
//  - Txn failing with UNAVAILABLE or DEADLINE_EXCEEDED may have been applied (the message says
//    so): etcd had the request when the member or the connection failed.
//  - Leases are etcd's: Shared() is true, and a key put with a lease goes when etcd ends it.
//  - Every call fails over between the endpoints (etcd_connection.h).
#ifndef FLEETD_STORAGE_ETCD_ETCD_STORE_H_
#define FLEETD_STORAGE_ETCD_ETCD_STORE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "storage/etcd/etcd_connection.h"
#include "storage/store.h"

namespace fleet::storage::etcd {

// etcd's own defaults for the limits below.
inline constexpr size_t kEtcdDefaultMaxTxnOps = 128;
inline constexpr size_t kEtcdDefaultMaxRequestBytes = 1536 * 1024;

struct EtcdStoreOptions {
  EtcdConnectionOptions connection;
  // Every key of this fleet lives under it (etcd_keyspace.h), so fleets can share a cluster.
  std::string key_prefix = "/fleetd/";
  // The cluster's --max-txn-ops and --max-request-bytes.
  size_t max_txn_ops = kEtcdDefaultMaxTxnOps;
  size_t max_request_bytes = kEtcdDefaultMaxRequestBytes;
  StoreOptions store;
};

// Connects and reads the cluster's revision and compaction point. UNAVAILABLE naming the
// endpoints when no member answers within the connection's retry budget; INVALID_ARGUMENT for bad
// options; the TLS file errors of EtcdConnection::Open.
absl::StatusOr<std::unique_ptr<Store>> OpenEtcdStore(const EtcdStoreOptions& options);

}  // namespace fleet::storage::etcd

#endif  // FLEETD_STORAGE_ETCD_ETCD_STORE_H_
