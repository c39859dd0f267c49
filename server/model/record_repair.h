// Reading records that protobuf alone would refuse, and saying so once. A proto3 string field
// holding ill-formed UTF-8 makes the whole record fail to parse; one such record (an agent's
// status, cut mid-character by an older fleetd) would otherwise fail every list that meets it,
// for everyone, also after a restart. Such a record is read with the ill-formed bytes replaced
// by U+FFFD; a record that is not the message at all stays unreadable, and views skip it. Each
// is logged once per key (a bounded set of keys), not once per request.
#ifndef FLEETD_SERVER_MODEL_RECORD_REPAIR_H_
#define FLEETD_SERVER_MODEL_RECORD_REPAIR_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace fleet::server {

// Parses `bytes` into `record` (cleared first). When they parse only once the ill-formed UTF-8
// of string fields (nested and map fields too) is replaced with U+FFFD, parses that and sets
// *repaired (when given). False when the bytes do not parse as the message even so.
// `try_plain_first` false skips the plain parse, which protobuf logs an error for each time it
// fails: for a record known to need the repair (RecordProblemLogged).
bool ParseRecordRepairingUtf8(std::string_view bytes, google::protobuf::Message& record,
                              bool* repaired = nullptr, bool try_plain_first = true);

// Logs, the first time for `key` only, that the record there was `what` ("read with ill-formed
// UTF-8 replaced", "skipped: ..."). Remembers up to 4,096 keys; past that, logs once more that
// it stops. Thread-safe.
void LogRecordProblemOnce(const std::string& key, std::string_view what);

// Whether LogRecordProblemOnce logged `key`. Thread-safe.
bool RecordProblemLogged(const std::string& key);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_MODEL_RECORD_REPAIR_H_
