#include "server/agent/enrollment_service.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log_fields.h"
#include "common/utf8.h"
#include "google/protobuf/util/time_util.h"
#include "server/model/record_io.h"
#include "server/model/records.pb.h"
#include "server/model/secret_token.h"
#include "server/model/store_layout.h"
#include "server/model/validation.h"
#include "spdlog/spdlog.h"

namespace fleet::server {
namespace {

using google::protobuf::util::TimeUtil;
using storage::Compare;
using storage::Op;

// Enrollments with one token through other replicas race on its use count; the losers retry.
constexpr int kMaxAttempts = 64;

// The hostname is the agent's claim, up to 255 bytes: the log shows a prefix.
constexpr size_t kMaxLoggedFactBytes = 64;
// How often at most a refused enrollment is logged.
constexpr absl::Duration kRefusalLogInterval = absl::Seconds(10);

// What an agent record holds besides the facts (ids, secret hash, policy, times), about.
constexpr size_t kAgentRecordOverheadBytes = 256;

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

// Whether `token`, with `uses` spent, may enroll one more agent at `now`; the error to answer
// otherwise.
absl::Status CheckUsable(const v1::EnrollmentToken& token, int64_t uses, absl::Time now) {
  if (token.revoked()) return absl::UnauthenticatedError("the enrollment token was revoked");
  if (token.has_expires_at() &&
      absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(token.expires_at())) <= now) {
    return absl::UnauthenticatedError("the enrollment token has expired");
  }
  if (token.max_uses() > 0 && uses >= token.max_uses()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the enrollment token's ", token.max_uses(), " uses are spent"));
  }
  return absl::OkStatus();
}

// The agent record of a new agent enrolled with `token_id` at `now`.
record::AgentRecord NewAgent(const MintedToken& credentials, const v1::AgentFacts& facts,
                             const std::string& policy, const std::string& token_id,
                             absl::Time now) {
  record::AgentRecord agent_record;
  v1::Agent& agent = *agent_record.mutable_agent();
  agent.set_id(credentials.id);
  agent.set_hostname(facts.hostname());
  agent.set_os(facts.os());
  agent.set_arch(facts.arch());
  agent.set_agent_version(facts.agent_version());
  *agent.mutable_labels() = facts.labels();
  agent.set_policy(policy);
  agent.set_status(v1::AGENT_STATUS_OFFLINE);
  *agent.mutable_enrolled_at() = TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(now));
  *agent.mutable_secret_issued_at() = agent.enrolled_at();
  agent.set_enrollment_token_id(token_id);
  agent_record.set_secret_sha256(credentials.secret_sha256);
  return agent_record;
}

void SetResults(const std::vector<PendingEnrollment*>& enrollments, const absl::Status& status) {
  for (PendingEnrollment* enrollment : enrollments) enrollment->result = status;
}

}  // namespace

EnrollmentService::EnrollmentService(storage::Store& store, Clock& clock)
    : store_(store),
      clock_(clock),
      refusals_(clock, kRefusalLogInterval),
      batcher_(kMaxEnrollmentBatch, kMaxEnrollmentBatchBytes,
               [this](const std::vector<PendingEnrollment*>& batch) { CommitBatch(batch); }) {}

absl::StatusOr<v1::EnrollResponse> EnrollmentService::Enroll(const v1::EnrollRequest& request) {
  absl::StatusOr<ParsedToken> parsed = ParseToken(request.enrollment_token(), kEnrollmentTokenKind);
  if (!parsed.ok()) return Refused(parsed.status(), "", request.facts());
  if (absl::Status s = ValidateFacts(request.facts()); !s.ok()) {
    return Refused(s, parsed->id, request.facts());
  }
  PendingEnrollment enrollment{.token_id = parsed->id,
                               .token_secret = std::move(parsed->secret),
                               .facts = &request.facts(),
                               .bytes = kAgentRecordOverheadBytes + request.facts().ByteSizeLong()};
  batcher_.Enroll(enrollment);
  if (!enrollment.result.ok()) {
    return Refused(enrollment.result.status(), parsed->id, request.facts());
  }
  LogEvent(spdlog::level::info, "agent enrolled",
           {{"agent_id", enrollment.result->agent_id()},
            {"policy", enrollment.result->policy()},
            {"token_id", parsed->id},
            {"hostname", TruncateUtf8(request.facts().hostname(), kMaxLoggedFactBytes)}});
  return std::move(enrollment.result);
}

absl::Status EnrollmentService::Refused(const absl::Status& status, std::string_view token_id,
                                        const v1::AgentFacts& facts) {
  if (std::optional<int64_t> suppressed = refusals_.Admit()) {
    const std::string reason(status.message());
    const std::string code = absl::StatusCodeToString(status.code());
    LogEvent(spdlog::level::warn, "enrollment refused",
             {{"reason", reason},
              {"code", code},
              {"token_id", token_id},
              {"hostname", TruncateUtf8(facts.hostname(), kMaxLoggedFactBytes)},
              {"suppressed", *suppressed}});
  }
  return status;
}

void EnrollmentService::CommitBatch(const std::vector<PendingEnrollment*>& batch) {
  const std::string& token_id = batch.front()->token_id;
  const std::string token_key = layout::EnrollmentTokenKey(token_id);
  // The enrollments the latest attempt granted a use of the token, with their answers.
  std::vector<PendingEnrollment*> granted;
  std::vector<v1::EnrollResponse> responses;

  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    granted.clear();
    responses.clear();
    absl::StatusOr<std::optional<StoredRecord<record::EnrollmentTokenRecord>>> stored =
        ReadRecord<record::EnrollmentTokenRecord>(store_, token_key);
    if (!stored.ok()) return SetResults(batch, stored.status());
    if (!stored->has_value()) {
      return SetResults(batch, absl::UnauthenticatedError("unknown enrollment token"));
    }
    record::EnrollmentTokenRecord token = std::move((*stored)->record);
    const std::string& policy = token.token().policy();
    const std::string policy_key = layout::PolicyKey(policy);
    const absl::Time now = clock_.Now();

    storage::TxnRequest txn{.compares = {Compare::ModRevisionIs(token_key, (*stored)->mod_revision),
                                         Compare::Exists(policy_key)}};
    for (PendingEnrollment* enrollment : batch) {
      if (!SecretMatches(enrollment->token_secret, token.secret_sha256())) {
        enrollment->result = absl::UnauthenticatedError("unknown enrollment token");
        continue;
      }
      const int64_t uses = token.token().uses() + static_cast<int64_t>(granted.size());
      if (absl::Status s = CheckUsable(token.token(), uses, now); !s.ok()) {
        enrollment->result = s;
        continue;
      }
      MintedToken credentials = MintToken(kAgentSecretKind);
      const std::string agent_key = layout::AgentKey(credentials.id);
      txn.compares.push_back(Compare::Missing(agent_key));
      txn.success.push_back(Op::Put(
          agent_key,
          NewAgent(credentials, *enrollment->facts, policy, token_id, now).SerializeAsString()));
      v1::EnrollResponse& response = responses.emplace_back();
      response.set_agent_id(credentials.id);
      response.set_agent_secret(std::move(credentials.token));
      response.set_policy(policy);
      granted.push_back(enrollment);
    }
    if (granted.empty()) return;  // every one was refused; nothing to write

    token.mutable_token()->set_uses(token.token().uses() + static_cast<int64_t>(granted.size()));
    txn.success.push_back(Op::Put(token_key, token.SerializeAsString()));
    txn.success.push_back(Op::Put(layout::PolicyRefsKey(policy), ""));
    absl::StatusOr<storage::TxnResult> result = store_.Txn(txn);
    if (!result.ok()) return SetResults(granted, result.status());
    if (result->succeeded) {
      for (size_t i = 0; i < granted.size(); ++i) granted[i]->result = std::move(responses[i]);
      return;
    }
    absl::StatusOr<std::optional<storage::KeyValue>> policy_kv = store_.Get(policy_key);
    if (!policy_kv.ok()) return SetResults(granted, policy_kv.status());
    if (!policy_kv->has_value()) {
      return SetResults(
          granted, absl::FailedPreconditionError(absl::StrCat("the enrollment token's policy \"",
                                                              policy, "\" no longer exists")));
    }
    // Another replica used or changed the token meanwhile: read it again and decide the whole
    // batch again.
  }
  SetResults(granted,
             absl::AbortedError("too many agents enrolled with this token at once; try again"));
}

}  // namespace fleet::server
