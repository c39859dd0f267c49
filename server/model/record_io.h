// Reading protobuf records (records.proto, admin.proto) out of the Store.
#ifndef FLEETD_SERVER_MODEL_RECORD_IO_H_
#define FLEETD_SERVER_MODEL_RECORD_IO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "server/model/record_repair.h"
#include "storage/store.h"

namespace fleet::server {

template <typename Record>
struct StoredRecord {
  std::string key;
  Record record;
  int64_t mod_revision = 0;  // for compares: the record is unchanged while this holds
};

// Parses the record stored in `kv`; ill-formed UTF-8 in its strings is read as U+FFFD
// (record_repair.h). DATA_LOSS naming the key when it does not parse even so. Either problem is
// logged once per key. A list view skips a record that fails here and answers with the rest.
template <typename Record>
absl::StatusOr<StoredRecord<Record>> ParseRecord(const storage::KeyValue& kv) {
  StoredRecord<Record> stored;
  stored.key = kv.key;
  bool repaired = false;
  if (!ParseRecordRepairingUtf8(kv.value, stored.record, &repaired,
                                /*try_plain_first=*/!RecordProblemLogged(kv.key))) {
    LogRecordProblemOnce(kv.key, "does not parse; views skip it");
    return absl::DataLossError(
        absl::StrCat("stored record ", QuoteForError(kv.key), " does not parse"));
  }
  if (repaired) LogRecordProblemOnce(kv.key, "holds ill-formed UTF-8; read as U+FFFD");
  stored.mod_revision = kv.mod_revision;
  return stored;
}

// The record at `key`, or nullopt when there is none.
template <typename Record>
absl::StatusOr<std::optional<StoredRecord<Record>>> ReadRecord(storage::Store& store,
                                                               const std::string& key) {
  absl::StatusOr<std::optional<storage::KeyValue>> kv = store.Get(key);
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) return std::nullopt;
  absl::StatusOr<StoredRecord<Record>> parsed = ParseRecord<Record>(**kv);
  if (!parsed.ok()) return parsed.status();
  return *std::move(parsed);
}

// Every readable record under `prefix`, in key order, read page by page; records that do not
// parse are left out (ParseRecord logs them).
template <typename Record>
absl::StatusOr<std::vector<StoredRecord<Record>>> ReadAllRecords(storage::Store& store,
                                                                 const std::string& prefix) {
  std::vector<StoredRecord<Record>> records;
  storage::RangeRequest request{.prefix = prefix, .limit = 1000};
  do {
    absl::StatusOr<storage::RangeResult> page = store.Range(request);
    if (!page.ok()) return page.status();
    for (const storage::KeyValue& kv : page->kvs) {
      absl::StatusOr<StoredRecord<Record>> parsed = ParseRecord<Record>(kv);
      if (parsed.ok()) records.push_back(*std::move(parsed));
    }
    request.continuation = page->continuation;
  } while (!request.continuation.empty());
  return records;
}

// Read-modify-write of the record at `key` with optimistic concurrency: reads it, calls
// `mutate(Record&)` (which returns absl::Status and may read the store to check its
// preconditions), and writes the result if neither the record nor any of `extra` compares
// changed meanwhile, else starts over (ABORTED after a few tries); `also` ops are written in the
// same transaction. NOT_FOUND "`what` not found" when there is no record; mutate's error as it
// is. Returns the record as written.
template <typename Record, typename Mutate>
absl::StatusOr<Record> UpdateRecord(storage::Store& store, const std::string& key,
                                    const std::string& what, Mutate mutate,
                                    const std::vector<storage::Compare>& extra = {},
                                    const std::vector<storage::Op>& also = {}) {
  constexpr int kMaxAttempts = 5;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    absl::StatusOr<std::optional<StoredRecord<Record>>> stored = ReadRecord<Record>(store, key);
    if (!stored.ok()) return stored.status();
    if (!stored->has_value()) return absl::NotFoundError(absl::StrCat(what, " not found"));
    Record record = std::move((*stored)->record);
    if (absl::Status status = mutate(record); !status.ok()) return status;
    storage::TxnRequest txn{.compares = extra};
    txn.compares.push_back(storage::Compare::ModRevisionIs(key, (*stored)->mod_revision));
    txn.success.push_back(storage::Op::Put(key, record.SerializeAsString()));
    txn.success.insert(txn.success.end(), also.begin(), also.end());
    absl::StatusOr<storage::TxnResult> result = store.Txn(txn);
    if (!result.ok()) return result.status();
    if (result->succeeded) return record;
  }
  return absl::AbortedError(absl::StrCat(what, " kept changing concurrently; try again"));
}

}  // namespace fleet::server

#endif  // FLEETD_SERVER_MODEL_RECORD_IO_H_
