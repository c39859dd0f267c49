#include "storage/store.h"

namespace fleet::storage {
namespace {

absl::Status NoLeases() {
  return absl::UnimplementedError(
      "leases need a shared store (etcd); this one belongs to one fleetd");
}

}  // namespace

absl::StatusOr<int64_t> Store::GrantLease(absl::Duration) { return NoLeases(); }
absl::Status Store::KeepAliveLease(int64_t) { return NoLeases(); }
absl::Status Store::RevokeLease(int64_t) { return NoLeases(); }

}  // namespace fleet::storage
