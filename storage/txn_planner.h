// The backend-independent half of a transaction: validating it, evaluating its compares and
// turning the chosen branch into the events it commits. Backends supply the state to read
// (KeyReader) and apply the resulting events in their own way.
#ifndef FLEETD_STORAGE_TXN_PLANNER_H_
#define FLEETD_STORAGE_TXN_PLANNER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "storage/types.h"

namespace fleet::storage {

// The state a transaction is evaluated against.
class KeyReader {
 public:
  virtual ~KeyReader() = default;
  // The key's current state, or nullopt when it does not exist.
  virtual absl::StatusOr<std::optional<KeyValue>> Get(std::string_view key) = 0;
  // Every existing key under `prefix`, in key order.
  virtual absl::StatusOr<std::vector<std::string>> KeysWithPrefix(std::string_view prefix) = 0;
};

// OK when `request` is within the Store's limits (store.h), neither branch touches a key twice
// and, unless `leases` (a shared store), no op has a lease; INVALID_ARGUMENT naming the offending
// op otherwise.
absl::Status ValidateTxn(const TxnRequest& request, bool leases = false);

// The same limits for a PutState call (store.h).
absl::Status ValidateStateWrite(const std::vector<std::pair<std::string, std::string>>& puts,
                                const std::vector<std::string>& deletes);

struct TxnPlan {
  bool succeeded = false;
  // The changes the chosen branch makes at the given revision, in key order: puts carry the new
  // KeyValue, deletes the key and revision. Empty when the branch changes nothing.
  std::vector<Event> events;
};

// Evaluates a validated `request` against `reader` as if committed at `revision`. Errors are
// the reader's.
absl::StatusOr<TxnPlan> PlanTxn(const TxnRequest& request, int64_t revision, KeyReader& reader);

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_TXN_PLANNER_H_
