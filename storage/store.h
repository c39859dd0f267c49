// The revisioned key-value Store that holds all of fleetd's durable state, modelled on etcd's
// MVCC API so that every backend (RocksDB, in-memory, etcd) offers the same contract:
//  - one store-wide revision; every transaction that changes something gets the next one;
//  - Txn is atomic and, for durable backends, on disk when it returns OK;
//  - Watch delivers every committed change after a revision, in revision order, with no gaps
//    and no transaction split across batches, served from the revision log for the past and
//    from the commit path for the present;
//  - Compact drops log entries; watching from before the compaction point fails with the
//    distinct Compacted error (errors.h), and the caller re-lists and watches from there;
//  - a shared store (etcd, several replicas) has leases; revisions there are not consecutive,
//    as others write to the cluster too, and a Txn failing with UNAVAILABLE or DEADLINE_EXCEEDED
//    may have been applied (storage/etcd/etcd_store.h).
#ifndef FLEETD_STORAGE_STORE_H_
#define FLEETD_STORAGE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "storage/types.h"

namespace fleet::storage {

// Limits every backend enforces (INVALID_ARGUMENT beyond them).
inline constexpr size_t kMaxKeyBytes = 4 * 1024;
inline constexpr size_t kMaxValueBytes = 8 * 1024 * 1024;
inline constexpr size_t kMaxOpsPerTxn = 10'000;

struct StoreOptions {
  // How much a live watcher may hold unread before it falls back to reading the revision log
  // (see Watcher). Bounds the memory a slow watcher can pin; writers never wait for watchers.
  size_t watch_buffer_bytes = 16 * 1024 * 1024;
};

// A stream of committed changes under one prefix. Thread-compatible: one consumer thread calls
// Next; Cancel may be called from any thread. A Watcher may outlive its Store: once the store is
// destroyed, Next returns CANCELLED.
class Watcher {
 public:
  virtual ~Watcher() = default;

  // Waits up to `timeout` for changes. Returns the next batch (events of one or more whole
  // transactions, in revision order, never repeating or skipping one). On timeout, and may also
  // when transactions outside the prefix were committed, returns a batch with no events whose
  // revision says how far the watch has progressed. Errors: the Compacted
  // error when the watcher fell so far behind that the log it needs was compacted; CANCELLED
  // after Cancel or when the store closed; a backend's I/O error. After an error the watcher is
  // done and keeps returning it.
  virtual absl::StatusOr<WatchBatch> Next(absl::Duration timeout) = 0;

  // Makes the pending and every later Next return CANCELLED. Idempotent.
  virtual void Cancel() = 0;
};

// Thread-safe: every method may be called concurrently from any thread.
class Store {
 public:
  virtual ~Store() = default;

  // Reads one key at the current revision. Returns nullopt when the key does not exist.
  virtual absl::StatusOr<std::optional<KeyValue>> Get(std::string_view key) = 0;

  // Reads keys under `request.prefix` in key order, one page of at most `request.limit`, from one
  // consistent snapshot. Pages of one listing may come from different revisions; each says its
  // own. INVALID_ARGUMENT for a negative limit or a continuation not under the prefix.
  virtual absl::StatusOr<RangeResult> Range(const RangeRequest& request) = 0;

  // Evaluates `request.compares` against the current state and applies `success` or `failure`
  // atomically at the next revision. Returns OK once the change is committed (durably, for a
  // durable backend) and visible to Get, Range and Watch. INVALID_ARGUMENT for empty or oversized
  // keys and values, more than kMaxOpsPerTxn ops, or two ops in one branch touching the same key.
  // Any other error means nothing of the transaction was applied (but see etcd_store.h for a
  // shared store's UNAVAILABLE and DEADLINE_EXCEEDED). NOT_FOUND for a put with a lease that has
  // ended.
  virtual absl::StatusOr<TxnResult> Txn(const TxnRequest& request) = 0;

  // Starts a watch on keys under `prefix` (empty: all keys) delivering every transaction with
  // revision > after_revision, first from the log, then live. Returns the Compacted error when
  // after_revision is older than the compaction point; INVALID_ARGUMENT when negative.
  virtual absl::StatusOr<std::unique_ptr<Watcher>> Watch(std::string_view prefix,
                                                         int64_t after_revision) = 0;

  // Discards log entries at and below `revision`; watches must then start after it or later.
  // Compacting at or below the current compaction point is a no-op. INVALID_ARGUMENT when
  // `revision` is above the current revision.
  virtual absl::Status Compact(int64_t revision) = 0;

  // The revision of the newest committed transaction (0 for an empty store).
  virtual int64_t CurrentRevision() = 0;

  // The newest compacted revision (0 when never compacted).
  virtual int64_t CompactRevision() = 0;

  // Unlogged state: a keyspace apart from the revisioned keys, for high-frequency state (agent
  // status) that must survive restarts but must not flood the revision log. Writes take no
  // revision, make no watch events and are not seen by Get/Range; they are durable when
  // PutState returns OK, and atomic per call. INVALID_ARGUMENT for empty or oversized keys and
  // values, as for Txn.
  virtual absl::Status PutState(const std::vector<std::pair<std::string, std::string>>& puts,
                                const std::vector<std::string>& deletes) = 0;
  // Every state key under `prefix` with its value, in key order.
  virtual absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RangeState(
      std::string_view prefix) = 0;

  // Whether several fleetd replicas may share this store (etcd). Only a shared store has leases;
  // a local one (RocksDB, memory) belongs to one process, which is the only replica.
  virtual bool Shared() const { return false; }

  // The most ops, and about the most bytes of keys and values, one Txn may carry here, for
  // callers that batch many writes: kMaxOpsPerTxn and no limit beyond the per-key ones, unless
  // the backend has less (etcd: its --max-txn-ops and --max-request-bytes).
  virtual size_t MaxTxnOps() const { return kMaxOpsPerTxn; }
  virtual size_t MaxTxnBytes() const { return std::numeric_limits<size_t>::max(); }

  // Leases, for keys that must vanish with the replica that wrote them: one lease per replica,
  // never one per agent. A key put with Op::lease set is deleted (a delete event, like any) when
  // the lease ends: revoked, or not kept alive for its TTL. A store that is not Shared() has
  // none: these return UNIMPLEMENTED, and its Txn refuses an Op with a lease.
  //
  // Grants a lease of `ttl` (rounded up to whole seconds, at least 1 s); returns its id.
  virtual absl::StatusOr<int64_t> GrantLease(absl::Duration ttl);
  // Renews the lease for its TTL from now. NOT_FOUND when it has ended already.
  virtual absl::Status KeepAliveLease(int64_t lease);
  // Ends the lease now, deleting its keys. OK when it had ended already.
  virtual absl::Status RevokeLease(int64_t lease);
};

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_STORE_H_
