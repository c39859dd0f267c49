#include "storage/rocksdb/record_codec.h"

#include "absl/strings/str_cat.h"
#include "storage/rocksdb/record.pb.h"

namespace fleet::storage {
namespace {

void ToRecord(const KeyValue& kv, record::KeyRecord& out) {
  out.set_value(kv.value);
  out.set_create_revision(kv.create_revision);
  out.set_mod_revision(kv.mod_revision);
  out.set_version(kv.version);
}

KeyValue FromRecord(std::string_view key, const record::KeyRecord& in) {
  return KeyValue{.key = std::string(key),
                  .value = in.value(),
                  .create_revision = in.create_revision(),
                  .mod_revision = in.mod_revision(),
                  .version = in.version()};
}

}  // namespace

std::string EncodeRevisionKey(int64_t revision) {
  std::string key(8, '\0');
  auto value = static_cast<uint64_t>(revision);
  for (int i = 7; i >= 0; --i) {
    key[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return key;
}

absl::StatusOr<int64_t> DecodeRevisionKey(std::string_view key) {
  if (key.size() != 8) {
    return absl::DataLossError(
        absl::StrCat("revision log key is ", key.size(), " bytes, expected 8"));
  }
  uint64_t value = 0;
  for (char c : key) value = (value << 8) | static_cast<unsigned char>(c);
  return static_cast<int64_t>(value);
}

std::string EncodeKeyValue(const KeyValue& kv) {
  record::KeyRecord record;
  ToRecord(kv, record);
  return record.SerializeAsString();
}

absl::StatusOr<KeyValue> DecodeKeyValue(std::string_view key, std::string_view record) {
  record::KeyRecord parsed;
  if (!parsed.ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    return absl::DataLossError(
        absl::StrCat("stored record of key \"", std::string(key), "\" does not parse"));
  }
  return FromRecord(key, parsed);
}

std::string EncodeCommittedTxn(const CommittedTxn& txn) {
  record::TxnRecord record;
  record.set_revision(txn.revision);
  record.set_commit_time_unix_micros(absl::ToUnixMicros(txn.commit_time));
  for (const Event& event : txn.events) {
    record::EventRecord* out = record.add_events();
    out->set_type(event.type == Event::Type::kPut ? record::EventRecord::PUT
                                                  : record::EventRecord::DELETE);
    out->set_key(event.kv.key);
    ToRecord(event.kv, *out->mutable_kv());
  }
  return record.SerializeAsString();
}

absl::StatusOr<CommittedTxn> DecodeCommittedTxn(std::string_view record) {
  record::TxnRecord parsed;
  if (!parsed.ParseFromArray(record.data(), static_cast<int>(record.size()))) {
    return absl::DataLossError("revision log record does not parse");
  }
  CommittedTxn txn;
  txn.revision = parsed.revision();
  txn.commit_time = absl::FromUnixMicros(parsed.commit_time_unix_micros());
  txn.events.reserve(parsed.events_size());
  for (const record::EventRecord& in : parsed.events()) {
    txn.events.push_back(Event{
        .type = in.type() == record::EventRecord::PUT ? Event::Type::kPut : Event::Type::kDelete,
        .kv = FromRecord(in.key(), in.kv())});
  }
  return txn;
}

}  // namespace fleet::storage
