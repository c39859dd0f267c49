#include "server/enrollment_service.h"

#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "server/record_io.h"
#include "server/records.pb.h"
#include "server/secret_token.h"
#include "server/store_layout.h"
#include "server/validation.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;
using storage::Compare;
using storage::Op;

// Enrollments with one token through other replicas race on its use count; the losers retry.
constexpr int kMaxAttempts = 64;

absl::Status ValidateFact(std::string_view field, std::string_view value, size_t min, size_t max) {
  if (value.size() >= min && value.size() <= max) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("facts.", std::string(field), " must be ", min,
                                                 " to ", max, " bytes (got ", value.size(), ")"));
}

absl::Status ValidateFacts(const v1::AgentFacts& facts) {
  if (absl::Status s = ValidateFact("hostname", facts.hostname(), 1, 255); !s.ok()) return s;
  if (absl::Status s = ValidateFact("os", facts.os(), 0, 64); !s.ok()) return s;
  if (absl::Status s = ValidateFact("arch", facts.arch(), 0, 64); !s.ok()) return s;
  if (absl::Status s = ValidateFact("agent_version", facts.agent_version(), 0, 64); !s.ok()) {
    return s;
  }
  for (const auto& [key, value] : facts.labels()) {
    if (absl::Status s = ValidateLabelKey("facts.labels key", key); !s.ok()) return s;
    if (absl::Status s = ValidateLabelValue("facts.labels value", value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// Whether `token` may enroll one more agent at `now`; the error to answer otherwise.
absl::Status CheckUsable(const v1::EnrollmentToken& token, absl::Time now) {
  if (token.revoked()) return absl::UnauthenticatedError("the enrollment token was revoked");
  if (token.has_expires_at() &&
      absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(token.expires_at())) <= now) {
    return absl::UnauthenticatedError("the enrollment token has expired");
  }
  if (token.max_uses() > 0 && token.uses() >= token.max_uses()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the enrollment token's ", token.max_uses(), " uses are spent"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<v1::EnrollResponse> EnrollmentService::Enroll(const v1::EnrollRequest& request) {
  absl::StatusOr<ParsedToken> parsed = ParseToken(request.enrollment_token(), kEnrollmentTokenKind);
  if (!parsed.ok()) return parsed.status();
  if (absl::Status s = ValidateFacts(request.facts()); !s.ok()) return s;
  const std::string token_key = layout::EnrollmentTokenKey(parsed->id);
  absl::MutexLock serialized(&TokenLock(parsed->id));

  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    absl::StatusOr<std::optional<StoredRecord<record::EnrollmentTokenRecord>>> stored =
        ReadRecord<record::EnrollmentTokenRecord>(store_, token_key);
    if (!stored.ok()) return stored.status();
    if (!stored->has_value() || !SecretMatches(parsed->secret, (*stored)->record.secret_sha256())) {
      return absl::UnauthenticatedError("unknown enrollment token");
    }
    record::EnrollmentTokenRecord token = (*stored)->record;
    const absl::Time now = clock_.Now();
    if (absl::Status s = CheckUsable(token.token(), now); !s.ok()) return s;
    token.mutable_token()->set_uses(token.token().uses() + 1);

    MintedToken credentials = MintToken(kAgentSecretKind);
    record::AgentRecord agent_record;
    v1::Agent& agent = *agent_record.mutable_agent();
    agent.set_id(credentials.id);
    agent.set_hostname(request.facts().hostname());
    agent.set_os(request.facts().os());
    agent.set_arch(request.facts().arch());
    agent.set_agent_version(request.facts().agent_version());
    *agent.mutable_labels() = request.facts().labels();
    agent.set_policy(token.token().policy());
    agent.set_status(v1::AGENT_STATUS_OFFLINE);
    *agent.mutable_enrolled_at() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
    agent.set_enrollment_token_id(parsed->id);
    agent_record.set_secret_sha256(credentials.secret_sha256);

    const std::string agent_key = layout::AgentKey(credentials.id);
    const std::string policy_key = layout::PolicyKey(token.token().policy());
    absl::StatusOr<storage::TxnResult> result =
        store_.Txn({.compares = {Compare::ModRevisionIs(token_key, (*stored)->mod_revision),
                                 Compare::Exists(policy_key), Compare::Missing(agent_key)},
                    .success = {Op::Put(token_key, token.SerializeAsString()),
                                Op::Put(agent_key, agent_record.SerializeAsString()),
                                Op::Put(layout::PolicyRefsKey(token.token().policy()), "")}});
    if (!result.ok()) return result.status();
    if (result->succeeded) {
      v1::EnrollResponse response;
      response.set_agent_id(credentials.id);
      response.set_agent_secret(credentials.token);
      response.set_policy(token.token().policy());
      return response;
    }
    absl::StatusOr<std::optional<storage::KeyValue>> policy = store_.Get(policy_key);
    if (!policy.ok()) return policy.status();
    if (!policy->has_value()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the enrollment token's policy \"", token.token().policy(), "\" no longer exists"));
    }
    // Another enrollment used the token meanwhile: read it again.
  }
  return absl::AbortedError("too many agents enrolled with this token at once; try again");
}

absl::Mutex& EnrollmentService::TokenLock(const std::string& token_id) {
  return token_locks_[std::hash<std::string>()(token_id) % token_locks_.size()];
}

}  // namespace fleet::server
