// Lists of policies with their specs, for output that must apply back: ListPolicies answers
// without specs (admin.proto), so that a list stays small for tables.
#ifndef FLEETD_CLI_POLICY_SPECS_H_
#define FLEETD_CLI_POLICY_SPECS_H_

#include "absl/status/status.h"
#include "cli/admin_client.h"
#include "fleet/v1/admin.pb.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace fleet::cli {

// Replaces each policy of `policies` by its latest revision with its spec (one GetPolicy each,
// as each spec may be up to 1 MiB), so that `get policies -o yaml` prints documents `apply -f`
// takes back. A policy deleted since it was listed is left out. Errors: the first GetPolicy
// error other than NOT_FOUND.
absl::Status FetchPolicySpecs(AdminClient& client,
                              google::protobuf::RepeatedPtrField<v1::Policy>& policies);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_POLICY_SPECS_H_
