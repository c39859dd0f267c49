#include "server/model/record_repair.h"

#include <cstddef>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/utf8.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"
#include "spdlog/spdlog.h"

namespace fleet::server {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::UnknownField;
using google::protobuf::UnknownFieldSet;

constexpr size_t kMaxLoggedKeys = 4096;
// Records nest a few levels (AgentRecord > Agent > labels); a bound keeps hostile bytes from
// recursing deep.
constexpr int kMaxDepth = 16;

// Replaces the ill-formed UTF-8 in the string fields of `fields`, read as `type`, recursively.
// False when a nested message does not parse.
bool Repair(const Descriptor& type, UnknownFieldSet& fields, int depth) {
  if (depth > kMaxDepth) return false;
  for (int i = 0; i < fields.field_count(); ++i) {
    UnknownField& field = *fields.mutable_field(i);
    if (field.type() != UnknownField::TYPE_LENGTH_DELIMITED) continue;
    const FieldDescriptor* descriptor = type.FindFieldByNumber(field.number());
    if (descriptor == nullptr) continue;
    std::string& value = *field.mutable_length_delimited();
    if (descriptor->type() == FieldDescriptor::TYPE_STRING) {
      if (!IsValidUtf8(value)) value = SanitizeUtf8(value, value.size() * 3);
    } else if (descriptor->type() == FieldDescriptor::TYPE_MESSAGE) {
      UnknownFieldSet nested;
      if (!nested.ParseFromString(value) ||
          !Repair(*descriptor->message_type(), nested, depth + 1)) {
        return false;
      }
      value.clear();
      if (!nested.SerializeToString(&value)) return false;
    }
  }
  return true;
}

// The keys logged so far, and their lock.
struct Logged {
  absl::Mutex mu;
  absl::flat_hash_set<std::string> keys ABSL_GUARDED_BY(mu);
};

Logged& LoggedKeys() {
  static Logged* const logged = new Logged();  // never destroyed: logging may outlive main
  return *logged;
}

}  // namespace

bool ParseRecordRepairingUtf8(std::string_view bytes, google::protobuf::Message& record,
                              bool* repaired, bool try_plain_first) {
  if (repaired != nullptr) *repaired = false;
  if (try_plain_first && record.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return true;
  }
  UnknownFieldSet fields;
  if (!fields.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
      !Repair(*record.GetDescriptor(), fields, 0)) {
    return false;
  }
  std::string fixed;
  if (!fields.SerializeToString(&fixed) || !record.ParseFromString(fixed)) return false;
  if (repaired != nullptr) *repaired = fixed != bytes;
  return true;
}

bool RecordProblemLogged(const std::string& key) {
  Logged& logged = LoggedKeys();
  absl::MutexLock lock(&logged.mu);
  return logged.keys.contains(key);
}

void LogRecordProblemOnce(const std::string& key, std::string_view what) {
  Logged& logged = LoggedKeys();
  absl::MutexLock lock(&logged.mu);
  if (logged.keys.size() > kMaxLoggedKeys || logged.keys.contains(key)) return;
  if (logged.keys.size() == kMaxLoggedKeys) {
    logged.keys.insert("");  // one past the bound: nothing more is logged
    spdlog::warn("{} stored records had problems; no more are logged", kMaxLoggedKeys);
    return;
  }
  logged.keys.insert(key);
  spdlog::warn("stored record {}: {}", QuoteForError(key), what);
}

}  // namespace fleet::server
