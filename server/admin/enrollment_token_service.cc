#include "server/admin/enrollment_token_service.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/secret_token.h"
#include "server/model/store_layout.h"
#include "server/model/validation.h"

namespace fleet::server {

using google::protobuf::util::TimeUtil;
using storage::Compare;
using storage::Op;

absl::StatusOr<v1::CreateEnrollmentTokenResponse> EnrollmentTokenService::Create(
    const v1::CreateEnrollmentTokenRequest& request, const std::string& author,
    const v1::Creator& creator) {
  if (absl::Status s = ValidateName("policy", request.policy()); !s.ok()) return s;
  if (absl::Status s = ValidateDescription("description", request.description()); !s.ok()) {
    return s;
  }
  // Bounded well inside int64 microseconds; longer is "never", which is an unset ttl.
  constexpr int64_t kMaxTtlSeconds = int64_t{100} * 366 * 24 * 3600;
  if (request.has_ttl() &&
      (request.ttl().seconds() < 0 || request.ttl().seconds() > kMaxTtlSeconds ||
       TimeUtil::DurationToMicroseconds(request.ttl()) <= 0)) {
    return absl::InvalidArgumentError(
        "ttl must be positive and at most 100 years (leave it unset for no expiry)");
  }
  if (request.max_uses() < 0) {
    return absl::InvalidArgumentError("max_uses must not be negative (0 means unlimited)");
  }
  const absl::Time now = clock_.Now();
  MintedToken minted = MintToken(kEnrollmentTokenKind);
  record::EnrollmentTokenRecord record;
  v1::EnrollmentToken& token = *record.mutable_token();
  token.set_id(minted.id);
  token.set_policy(request.policy());
  token.set_description(request.description());
  *token.mutable_created_at() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  if (request.has_ttl()) {
    *token.mutable_expires_at() = TimeUtil::MicrosecondsToTimestamp(
        absl::ToUnixMicros(now) + TimeUtil::DurationToMicroseconds(request.ttl()));
  }
  token.set_max_uses(request.max_uses());
  token.set_created_by(author);
  if (!creator.token_id().empty()) *token.mutable_creator() = creator;
  record.set_secret_sha256(minted.secret_sha256);

  const std::string key = layout::EnrollmentTokenKey(minted.id);
  absl::StatusOr<storage::TxnResult> result = store_.Txn(
      {.compares = {Compare::Exists(layout::PolicyKey(request.policy())), Compare::Missing(key)},
       .success = {Op::Put(key, record.SerializeAsString()),
                   Op::Put(layout::PolicyRefsKey(request.policy()), "")}});
  if (!result.ok()) return result.status();
  if (!result->succeeded) {
    return absl::NotFoundError(absl::StrCat("policy \"", request.policy(), "\" not found"));
  }
  v1::CreateEnrollmentTokenResponse response;
  *response.mutable_token() = std::move(token);
  response.set_secret(minted.token);
  return response;
}

absl::StatusOr<v1::ListEnrollmentTokensResponse> EnrollmentTokenService::List(
    const v1::ListEnrollmentTokensRequest& request) {
  if (!request.policy().empty()) {
    if (absl::Status s = ValidateName("policy", request.policy()); !s.ok()) return s;
  }
  absl::StatusOr<std::vector<StoredRecord<record::EnrollmentTokenRecord>>> records =
      ReadAllRecords<record::EnrollmentTokenRecord>(store_, layout::kEnrollmentTokens);
  if (!records.ok()) return records.status();
  v1::ListEnrollmentTokensResponse response;
  for (const auto& stored : *records) {
    if (request.policy().empty() || stored.record.token().policy() == request.policy()) {
      *response.add_tokens() = stored.record.token();
    }
  }
  return response;
}

absl::Status EnrollmentTokenService::Revoke(const v1::RevokeEnrollmentTokenRequest& request) {
  if (absl::Status s = ValidateId("id", request.id()); !s.ok()) return s;
  return UpdateRecord<record::EnrollmentTokenRecord>(
             store_, layout::EnrollmentTokenKey(request.id()),
             absl::StrCat("enrollment token ", request.id()),
             [](record::EnrollmentTokenRecord& record) {
               record.mutable_token()->set_revoked(true);
               return absl::OkStatus();
             })
      .status();
}

}  // namespace fleet::server
