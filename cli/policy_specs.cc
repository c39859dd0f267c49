#include "cli/policy_specs.h"

#include <utility>

namespace fleet::cli {

absl::Status FetchPolicySpecs(AdminClient& client,
                              google::protobuf::RepeatedPtrField<v1::Policy>& policies) {
  google::protobuf::RepeatedPtrField<v1::Policy> with_specs;
  for (const v1::Policy& listed : policies) {
    v1::GetPolicyRequest request;
    request.set_name(listed.name());
    absl::StatusOr<v1::Policy> policy = client.GetPolicy(request);
    if (absl::IsNotFound(policy.status())) continue;
    if (!policy.ok()) return policy.status();
    *with_specs.Add() = *std::move(policy);
  }
  policies = std::move(with_specs);
  return absl::OkStatus();
}

}  // namespace fleet::cli
