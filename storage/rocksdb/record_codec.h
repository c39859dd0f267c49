// Conversions between the Store's types and their on-disk records (record.proto), and the
// encoding of revisions as order-preserving keys.
#ifndef FLEETD_STORAGE_ROCKSDB_RECORD_CODEC_H_
#define FLEETD_STORAGE_ROCKSDB_RECORD_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "storage/types.h"

namespace fleet::storage {

// 8 bytes, big-endian, so that byte order is numeric order for non-negative revisions.
std::string EncodeRevisionKey(int64_t revision);
// DATA_LOSS when `key` is not 8 bytes.
absl::StatusOr<int64_t> DecodeRevisionKey(std::string_view key);

// The stored form of a key's state (the key itself is the record's key).
std::string EncodeKeyValue(const KeyValue& kv);
// DATA_LOSS when `record` does not parse.
absl::StatusOr<KeyValue> DecodeKeyValue(std::string_view key, std::string_view record);

std::string EncodeCommittedTxn(const CommittedTxn& txn);
// DATA_LOSS when `record` does not parse.
absl::StatusOr<CommittedTxn> DecodeCommittedTxn(std::string_view record);

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_ROCKSDB_RECORD_CODEC_H_
