#include "storage/errors.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace fleet::storage {
namespace {
constexpr char kCompactedPayload[] = "type.fleetd.dev/fleet.storage.Compacted";
}  // namespace

absl::Status CompactedError(int64_t requested_after, int64_t compact_revision) {
  absl::Status status = absl::OutOfRangeError(
      absl::StrCat("revision ", requested_after, " has been compacted; the oldest revision to ",
                   "start after is ", compact_revision, ": re-list and watch from there"));
  status.SetPayload(kCompactedPayload, absl::Cord(absl::StrCat(compact_revision)));
  return status;
}

bool IsCompacted(const absl::Status& status) { return CompactedRevision(status).has_value(); }

std::optional<int64_t> CompactedRevision(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kOutOfRange) return std::nullopt;
  absl::optional<absl::Cord> payload = status.GetPayload(kCompactedPayload);
  if (!payload.has_value()) return std::nullopt;
  int64_t revision = 0;
  if (!absl::SimpleAtoi(std::string(*payload), &revision)) return std::nullopt;
  return revision;
}

}  // namespace fleet::storage
