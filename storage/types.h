// Value types of the revisioned Store (see store.h for the operations on them).
#ifndef FLEETD_STORAGE_TYPES_H_
#define FLEETD_STORAGE_TYPES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace fleet::storage {

// The current state of one key. Revisions are the store-wide revisions of the transactions that
// created the key (create_revision) and last changed it (mod_revision); version counts changes
// since creation, starting at 1. A key deleted and put again starts over at version 1.
struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;

  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

// One condition of a transaction, evaluated against the state before the transaction.
// A missing key has create_revision, mod_revision and version 0, so `VersionIs(key, 0)` means
// "key does not exist"; a kValue compare on a missing key is false whatever its op.
struct Compare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue };
  enum class Op { kEqual, kNotEqual, kLess, kGreater };

  std::string key;
  Target target = Target::kVersion;
  Op op = Op::kEqual;
  int64_t number = 0;  // for kVersion, kCreateRevision, kModRevision
  std::string value;   // for kValue

  static Compare Exists(std::string key);
  static Compare Missing(std::string key);
  static Compare ModRevisionIs(std::string key, int64_t revision);
  static Compare VersionIs(std::string key, int64_t version);
  static Compare ValueIs(std::string key, std::string value);
};

// One write of a transaction.
struct Op {
  enum class Type { kPut, kDelete, kDeletePrefix };

  Type type = Type::kPut;
  std::string key;  // the key, or for kDeletePrefix the prefix (non-empty)
  std::string value;
  // For kPut on a shared store: the lease the key goes with (Store::GrantLease); 0 for none.
  int64_t lease = 0;

  static Op Put(std::string key, std::string value);
  static Op PutWithLease(std::string key, std::string value, int64_t lease);
  static Op Delete(std::string key);
  static Op DeletePrefix(std::string prefix);
};

// All compares hold -> `success` is applied, else `failure`; atomically, at one new revision.
struct TxnRequest {
  std::vector<Compare> compares;
  std::vector<Op> success;
  std::vector<Op> failure;
};

struct TxnResult {
  bool succeeded = false;  // whether every compare held
  // The revision the transaction committed at; when the applied branch changed nothing (no ops,
  // or deletes of missing keys) no revision is used and this is the store's current revision.
  int64_t revision = 0;
};

// One change of one key. For kDelete, kv holds the key and mod_revision (the deleting revision);
// the other fields are empty.
struct Event {
  enum class Type { kPut, kDelete };

  Type type = Type::kPut;
  KeyValue kv;

  friend bool operator==(const Event&, const Event&) = default;
};

// Everything one transaction changed. Immutable once built and shared between watchers.
struct CommittedTxn {
  int64_t revision = 0;
  absl::Time commit_time;
  std::vector<Event> events;  // in key order; never empty
};
using CommittedTxnPtr = std::shared_ptr<const CommittedTxn>;

struct RangeRequest {
  std::string prefix;        // may be empty: every key
  std::string continuation;  // from a previous RangeResult; empty for the first page
  int64_t limit = 0;         // at most this many keys; 0 means no limit
};

struct RangeResult {
  std::vector<KeyValue> kvs;  // in key order
  std::string continuation;   // non-empty when more keys may follow; pass it back for them
  int64_t revision = 0;       // the store revision this page was read at
};

// What a watcher receives: events of whole transactions, in revision order.
struct WatchBatch {
  std::vector<Event> events;  // only keys under the watched prefix; may be empty (progress)
  int64_t revision = 0;       // every transaction up to this revision has been delivered
};

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_TYPES_H_
