// Range pagination shared by the backends, so that every one reads continuations the same way.
#ifndef FLEETD_STORAGE_RANGE_UTIL_H_
#define FLEETD_STORAGE_RANGE_UTIL_H_

#include <string>

#include "absl/status/statusor.h"
#include "storage/types.h"

namespace fleet::storage {

// The first key a Range may return: the prefix, or just after the continuation. INVALID_ARGUMENT
// for a negative limit or a continuation outside the prefix.
absl::StatusOr<std::string> RangeStartKey(const RangeRequest& request);

// Whether `result` already holds a full page; if so, sets its continuation. Call before adding
// each key.
bool RangePageFull(const RangeRequest& request, RangeResult& result);

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_RANGE_UTIL_H_
