// The Store's one error that callers must tell apart: a watch or read that starts before the
// compaction point. Everything else is an ordinary absl::Status code.
#ifndef FLEETD_STORAGE_ERRORS_H_
#define FLEETD_STORAGE_ERRORS_H_

#include <cstdint>
#include <optional>

#include "absl/status/status.h"

namespace fleet::storage {

// OUT_OF_RANGE, naming `compact_revision`, the oldest revision a watch may start after.
absl::Status CompactedError(int64_t requested_after, int64_t compact_revision);

// Whether `status` came from CompactedError.
bool IsCompacted(const absl::Status& status);

// The compaction revision carried by a CompactedError; nullopt for any other status.
std::optional<int64_t> CompactedRevision(const absl::Status& status);

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_ERRORS_H_
