#include "server/admin/policy_service.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fleet/v1/canonical_json.h"
#include "google/protobuf/util/time_util.h"
#include "server/model/label_selector.h"
#include "server/model/page_token.h"
#include "server/model/record_io.h"
#include "server/model/store_layout.h"
#include "server/model/stored_policy.h"
#include "server/model/validation.h"

namespace fleet::server {
namespace {

using storage::Compare;
using storage::Op;

// How often a change is retried when a concurrent change to the same policy wins.
constexpr int kMaxAttempts = 5;
constexpr int64_t kMaxPrunePerCommit = 1000;
// DiffPolicy's bound on patch_json (admin.proto): under gRPC's default 4 MiB receive limit with
// 64 KiB to spare for the rest of the response (two policies without specs).
constexpr size_t kMaxDiffPatchBytes = 4 * 1024 * 1024 - 64 * 1024;

absl::Status CheckExpected(const std::string& name, std::optional<int64_t> expected,
                           int64_t latest) {
  if (!expected.has_value() || *expected == latest) return absl::OkStatus();
  return absl::FailedPreconditionError(
      latest == 0
          ? absl::StrCat("policy \"", name, "\" does not exist; expected revision ", *expected)
          : absl::StrCat("policy \"", name, "\" is at revision ", latest, ", not the expected ",
                         *expected));
}

absl::Status NotFound(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("policy \"", name, "\" not found"));
}

std::optional<int64_t> Expected(bool has, int64_t value) {
  return has ? std::optional<int64_t>(value) : std::nullopt;
}

// The revision as stored, in today's canonical form (what agents are sent), with the store
// revision it was committed at.
absl::StatusOr<v1::Policy> ToPolicy(const storage::KeyValue& kv) {
  absl::StatusOr<StoredPolicy> stored = ParseStoredPolicy(kv);
  if (!stored.ok()) return stored.status();
  stored->policy.set_store_revision(kv.mod_revision);
  return std::move(stored->policy);
}

using Labels = google::protobuf::Map<std::string, std::string>;

bool SameLabels(const Labels& a, const Labels& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a) {
    auto it = b.find(key);
    if (it == b.end() || it->second != value) return false;
  }
  return true;
}

absl::Status ValidateLabels(const Labels& labels) {
  for (const auto& [key, value] : labels) {
    if (absl::Status s = ValidateLabelKey("labels key", key); !s.ok()) return s;
    if (absl::Status s = ValidateLabelValue("labels value", value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

v1::Policy WithoutSpec(v1::Policy policy) {
  policy.clear_spec_json();
  return policy;
}

}  // namespace

PolicyService::PolicyService(storage::Store& store, Clock& clock, PolicyOptions options,
                             AgentDirectory& agents)
    : store_(store), clock_(clock), options_(options), agents_(agents) {}

absl::StatusOr<record::PolicyHead> PolicyService::ReadHead(const std::string& name,
                                                           int64_t* mod_revision) {
  absl::StatusOr<std::optional<StoredRecord<record::PolicyHead>>> head =
      ReadRecord<record::PolicyHead>(store_, layout::PolicyKey(name));
  if (!head.ok()) return head.status();
  if (!head->has_value()) return NotFound(name);
  if (mod_revision != nullptr) *mod_revision = (*head)->mod_revision;
  return std::move((*head)->record);
}

absl::StatusOr<v1::Policy> PolicyService::ReadRevision(const std::string& name, int64_t revision,
                                                       const record::PolicyHead& head) {
  if (revision < head.oldest_revision() || revision > head.latest_revision()) {
    return absl::NotFoundError(
        absl::StrCat("revision ", revision, " of policy \"", name, "\" is not retained; revisions ",
                     head.oldest_revision(), " to ", head.latest_revision(), " are"));
  }
  absl::StatusOr<std::optional<storage::KeyValue>> kv =
      store_.Get(layout::PolicyRevisionKey(name, revision));
  if (!kv.ok()) return kv.status();
  if (!kv->has_value()) {
    return absl::NotFoundError(
        absl::StrCat("revision ", revision, " of policy \"", name, "\" not found"));
  }
  return ToPolicy(**kv);
}

absl::StatusOr<v1::ApplyPolicyResponse> PolicyService::Apply(const v1::ApplyPolicyRequest& request,
                                                             const std::string& author,
                                                             const v1::Creator& creator) {
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  if (absl::Status s = ValidateDescription("description", request.description()); !s.ok()) {
    return s;
  }
  if (absl::Status s = ValidateLabels(request.labels()); !s.ok()) return s;
  absl::StatusOr<v1::CanonicalSpec> spec = v1::ParseCanonicalSpec(request.spec_json(), "spec_json");
  if (!spec.ok()) return spec.status();
  return Commit(request.name(),
                Content{.description = request.description(),
                        .spec_json = std::move(spec->canonical),
                        .labels = request.labels()},
                Expected(request.has_expected_revision(), request.expected_revision()),
                request.dry_run(), author, creator);
}

absl::StatusOr<v1::ApplyPolicyResponse> PolicyService::Rollback(
    const v1::RollbackPolicyRequest& request, const std::string& author,
    const v1::Creator& creator) {
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  absl::StatusOr<record::PolicyHead> head = ReadHead(request.name(), nullptr);
  if (!head.ok()) return head.status();
  absl::StatusOr<v1::Policy> target = ReadRevision(request.name(), request.to_revision(), *head);
  if (!target.ok()) return target.status();
  // Only a revision stored before the limit applied to the canonical form can be bigger.
  if (target->spec_json().size() > v1::kMaxSpecBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("revision ", target->revision(), " is ", target->spec_json().size(),
                     " bytes in canonical form (RFC 8785); the limit is ", v1::kMaxSpecBytes));
  }
  return Commit(request.name(),
                Content{.description = target->description(),
                        .spec_json = target->spec_json(),
                        .rolled_back_from = target->revision()},
                Expected(request.has_expected_revision(), request.expected_revision()),
                /*dry_run=*/false, author, creator);
}

absl::StatusOr<v1::ApplyPolicyResponse> PolicyService::Commit(
    const std::string& name, const Content& content, std::optional<int64_t> expected_revision,
    bool dry_run, const std::string& author, const v1::Creator& creator) {
  const std::string head_key = layout::PolicyKey(name);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    absl::StatusOr<std::optional<StoredRecord<record::PolicyHead>>> stored =
        ReadRecord<record::PolicyHead>(store_, head_key);
    if (!stored.ok()) return stored.status();
    const bool exists = stored->has_value();
    record::PolicyHead head = exists ? (*stored)->record : record::PolicyHead();
    if (absl::Status s = CheckExpected(name, expected_revision, head.latest_revision()); !s.ok()) {
      // Say who changed it since, so that the caller knows whose change it would overwrite.
      absl::StatusOr<v1::Policy> latest =
          exists ? ReadRevision(name, head.latest_revision(), head) : s;
      if (!latest.ok()) return s;
      return absl::FailedPreconditionError(
          absl::StrCat(s.message(), "; revision ", latest->revision(), " was committed by ",
                       latest->author().empty() ? "an unknown author" : latest->author(), " at ",
                       google::protobuf::util::TimeUtil::ToString(latest->created_at())));
    }
    const Labels labels = content.labels.has_value() ? *content.labels : head.labels();
    const bool labels_differ = exists && !SameLabels(head.labels(), labels);
    v1::ApplyPolicyResponse response;
    const google::protobuf::Timestamp now =
        google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(clock_.Now()));
    // The policy's creation time, carried from revision to revision (unset when the latest
    // revision predates it: a time made up now would be wrong).
    google::protobuf::Timestamp policy_created_at = now;
    response.set_labels_updated(labels_differ);
    *response.mutable_policy()->mutable_labels() = labels;
    if (exists) {
      absl::StatusOr<v1::Policy> latest = ReadRevision(name, head.latest_revision(), head);
      // Concurrent changes may have pruned what the head named: read both again.
      if (absl::IsNotFound(latest.status())) continue;
      if (!latest.ok()) return latest.status();
      policy_created_at = latest->policy_created_at();
      if (latest->spec_json() == content.spec_json) {
        // Agents see the spec only: a revision that changes nothing there would be an empty
        // update every agent must receive and ack.
        // Nor do labels: they are the policy's, for selecting it, and agents never see them.
        *latest->mutable_labels() = labels;
        if (latest->description() == content.description && !labels_differ) {
          *response.mutable_policy() = *std::move(latest);
          return response;  // unchanged: no new revision
        }
        const bool description_differs = latest->description() != content.description;
        absl::StatusOr<bool> updated =
            UpdateMetadata(name, **stored, content.description, labels, dry_run, *latest);
        if (!updated.ok()) return updated.status();
        if (!*updated) continue;  // the head moved meanwhile: look again
        response.set_description_updated(description_differs);
        *response.mutable_policy() = *std::move(latest);
        return response;
      }
    }
    const int64_t revision = head.latest_revision() + 1;
    v1::Policy& policy = *response.mutable_policy();
    policy.set_name(name);
    policy.set_description(content.description);
    policy.set_revision(revision);
    policy.set_spec_json(content.spec_json);
    policy.set_sha256(v1::Sha256Hex(content.spec_json));
    *policy.mutable_created_at() = now;
    if (policy_created_at.seconds() != 0 || policy_created_at.nanos() != 0) {
      *policy.mutable_policy_created_at() = policy_created_at;
    }
    policy.set_author(author);
    if (!creator.token_id().empty()) *policy.mutable_creator() = creator;
    policy.set_rolled_back_from(content.rolled_back_from);
    response.set_changed(true);
    response.set_created(!exists);
    if (dry_run) return response;

    // Prune at most kMaxPrunePerCommit revisions per commit, so that lowering the history limit
    // a lot never makes a transaction too big; later commits prune the rest.
    const int64_t previous_oldest = exists ? head.oldest_revision() : 1;
    const int64_t oldest =
        std::min(std::max(previous_oldest, revision - options_.history_limit + 1),
                 previous_oldest + kMaxPrunePerCommit);
    storage::TxnRequest txn;
    txn.compares.push_back(exists ? Compare::ModRevisionIs(head_key, (*stored)->mod_revision)
                                  : Compare::Missing(head_key));
    head.set_name(name);
    head.set_latest_revision(revision);
    head.set_oldest_revision(oldest);
    *head.mutable_labels() = labels;
    txn.success.push_back(Op::Put(head_key, head.SerializeAsString()));
    v1::Policy stored_revision = policy;
    stored_revision.clear_labels();  // the head's, not the revision's
    txn.success.push_back(
        Op::Put(layout::PolicyRevisionKey(name, revision), stored_revision.SerializeAsString()));
    for (int64_t pruned = previous_oldest; pruned < oldest; ++pruned) {
      txn.success.push_back(Op::Delete(layout::PolicyRevisionKey(name, pruned)));
    }
    absl::StatusOr<storage::TxnResult> result = store_.Txn(txn);
    if (!result.ok()) return result.status();
    if (result->succeeded) {
      policy.set_store_revision(result->revision);
      return response;
    }
  }
  return absl::AbortedError(absl::StrCat("policy \"", name, "\" kept changing concurrently (",
                                         kMaxAttempts, " attempts); try again"));
}

absl::StatusOr<bool> PolicyService::UpdateMetadata(const std::string& name,
                                                   const StoredRecord<record::PolicyHead>& head,
                                                   const std::string& description,
                                                   const Labels& labels, bool dry_run,
                                                   v1::Policy& latest) {
  latest.set_description(description);
  *latest.mutable_labels() = labels;
  if (dry_run) return true;
  v1::Policy stored = latest;
  stored.clear_store_revision();  // derived from the key's revision when read
  stored.clear_labels();          // the head's
  record::PolicyHead new_head = head.record;
  *new_head.mutable_labels() = labels;
  // The head is written again (with the new labels), so that a concurrent commit that read it
  // before compares false and reads the new description; its latest revision does not move, so
  // the policy engine announces nothing.
  absl::StatusOr<storage::TxnResult> result =
      store_.Txn({.compares = {Compare::ModRevisionIs(head.key, head.mod_revision)},
                  .success = {Op::Put(head.key, new_head.SerializeAsString()),
                              Op::Put(layout::PolicyRevisionKey(name, latest.revision()),
                                      stored.SerializeAsString())}});
  if (!result.ok()) return result.status();
  if (result->succeeded) latest.set_store_revision(result->revision);
  return result->succeeded;
}

absl::StatusOr<v1::Policy> PolicyService::Get(const v1::GetPolicyRequest& request) {
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  if (request.revision() < 0) {
    return absl::InvalidArgumentError("revision must not be negative (0 means the latest)");
  }
  if (request.revision() == 0) return ReadLatest(request.name());
  absl::StatusOr<record::PolicyHead> head = ReadHead(request.name(), nullptr);
  if (!head.ok()) return head.status();
  absl::StatusOr<v1::Policy> policy = ReadRevision(request.name(), request.revision(), *head);
  if (policy.ok()) *policy->mutable_labels() = head->labels();
  return policy;
}

absl::StatusOr<v1::Policy> PolicyService::ReadLatest(const std::string& name) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    absl::StatusOr<record::PolicyHead> head = ReadHead(name, nullptr);
    if (!head.ok()) return head.status();
    absl::StatusOr<v1::Policy> latest = ReadRevision(name, head->latest_revision(), *head);
    if (latest.ok()) *latest->mutable_labels() = head->labels();
    // Concurrent changes may have pruned what the head named: read both again.
    if (!absl::IsNotFound(latest.status())) return latest;
  }
  return absl::AbortedError(absl::StrCat("policy \"", name, "\" kept changing concurrently (",
                                         kMaxAttempts, " attempts); try again"));
}

absl::StatusOr<v1::ListPoliciesResponse> PolicyService::List(
    const v1::ListPoliciesRequest& request) {
  absl::StatusOr<int32_t> page_size = EffectivePageSize(request.page_size());
  if (!page_size.ok()) return page_size.status();
  absl::StatusOr<LabelSelector> selector = LabelSelector::Parse(request.selector());
  if (!selector.ok()) return selector.status();
  absl::StatusOr<std::string> continuation =
      DecodePageToken(request.page_token(), layout::kPolicies);
  if (!continuation.ok()) return continuation.status();
  absl::StatusOr<storage::RangeResult> page = store_.Range(
      {.prefix = layout::kPolicies, .continuation = *continuation, .limit = *page_size});
  if (!page.ok()) return page.status();
  v1::ListPoliciesResponse response;
  for (const storage::KeyValue& kv : page->kvs) {
    absl::StatusOr<StoredRecord<record::PolicyHead>> head = ParseRecord<record::PolicyHead>(kv);
    if (!head.ok()) continue;  // logged once; the others are still worth showing
    if (!selector->Matches(head->record.labels())) continue;
    absl::StatusOr<v1::Policy> latest = ReadLatest(head->record.name());
    // Deleted since the listing was read, or its latest revision unreadable (logged once).
    if (absl::IsNotFound(latest.status()) || absl::IsDataLoss(latest.status())) continue;
    if (!latest.ok()) return latest.status();
    *response.add_policies() = WithoutSpec(*std::move(latest));
  }
  response.set_next_page_token(EncodePageToken(page->continuation));
  return response;
}

absl::StatusOr<v1::DeletePolicyResponse> PolicyService::Delete(
    const v1::DeletePolicyRequest& request) {
  const std::string& name = request.name();
  if (absl::Status s = ValidateName("name", name); !s.ok()) return s;
  int64_t head_mod_revision = 0;
  absl::StatusOr<record::PolicyHead> head = ReadHead(name, &head_mod_revision);
  if (!head.ok()) return head.status();
  if (absl::Status s = CheckExpected(
          name, Expected(request.has_expected_revision(), request.expected_revision()),
          head->latest_revision());
      !s.ok()) {
    return s;
  }
  // Whatever starts referring to the policy after this read rewrites the refs key, and the
  // compare below then fails instead of leaving it dangling.
  const std::string refs_key = layout::PolicyRefsKey(name);
  absl::StatusOr<std::optional<storage::KeyValue>> refs = store_.Get(refs_key);
  if (!refs.ok()) return refs.status();
  // Counted in memory, once the directory has seen everything committed up to now.
  absl::StatusOr<int64_t> assigned = agents_.AgentsOn(name, store_.CurrentRevision());
  if (!assigned.ok()) return assigned.status();
  if (*assigned > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("policy \"", name, "\" has ", *assigned,
                     " agents assigned; reassign or unenroll them first"));
  }
  absl::StatusOr<std::vector<StoredRecord<record::EnrollmentTokenRecord>>> tokens =
      ReadAllRecords<record::EnrollmentTokenRecord>(store_, layout::kEnrollmentTokens);
  if (!tokens.ok()) return tokens.status();

  storage::TxnRequest txn;
  txn.compares.push_back(Compare::ModRevisionIs(layout::PolicyKey(name), head_mod_revision));
  txn.compares.push_back(refs->has_value() ? Compare::ModRevisionIs(refs_key, (*refs)->mod_revision)
                                           : Compare::Missing(refs_key));
  txn.success.push_back(Op::Delete(layout::PolicyKey(name)));
  txn.success.push_back(Op::Delete(refs_key));
  txn.success.push_back(Op::DeletePrefix(layout::PolicyRevisionPrefix(name)));
  v1::DeletePolicyResponse response;
  for (const auto& token : *tokens) {
    if (token.record.token().policy() != name) continue;
    txn.success.push_back(Op::Delete(layout::EnrollmentTokenKey(token.record.token().id())));
    response.set_enrollment_tokens_deleted(response.enrollment_tokens_deleted() + 1);
  }
  absl::StatusOr<storage::TxnResult> result = store_.Txn(txn);
  if (!result.ok()) return result.status();
  if (!result->succeeded) {
    return absl::AbortedError(
        absl::StrCat("policy \"", name, "\" changed while it was being deleted; try again"));
  }
  response.set_revisions_deleted(head->latest_revision() - head->oldest_revision() + 1);
  return response;
}

absl::StatusOr<v1::GetPolicyHistoryResponse> PolicyService::History(
    const v1::GetPolicyHistoryRequest& request) {
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  absl::StatusOr<record::PolicyHead> head = ReadHead(request.name(), nullptr);
  if (!head.ok()) return head.status();
  absl::StatusOr<storage::RangeResult> revisions =
      store_.Range({.prefix = layout::PolicyRevisionPrefix(request.name())});
  if (!revisions.ok()) return revisions.status();
  v1::GetPolicyHistoryResponse response;
  for (auto it = revisions->kvs.rbegin(); it != revisions->kvs.rend(); ++it) {
    absl::StatusOr<v1::Policy> policy = ToPolicy(*it);
    if (!policy.ok()) continue;  // logged once; the other revisions are still worth showing
    *response.add_revisions() = WithoutSpec(*std::move(policy));
  }
  return response;
}

absl::StatusOr<v1::DiffPolicyResponse> PolicyService::Diff(const v1::DiffPolicyRequest& request) {
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  absl::StatusOr<record::PolicyHead> head = ReadHead(request.name(), nullptr);
  if (!head.ok()) return head.status();
  absl::StatusOr<v1::Policy> from = ReadRevision(request.name(), request.from_revision(), *head);
  if (!from.ok()) return from.status();
  absl::StatusOr<v1::Policy> to = ReadRevision(request.name(), request.to_revision(), *head);
  if (!to.ok()) return to.status();
  absl::StatusOr<nlohmann::json> from_spec = v1::ParseStoredJsonObject(from->spec_json(), "spec");
  if (!from_spec.ok()) return absl::DataLossError(std::string(from_spec.status().message()));
  absl::StatusOr<nlohmann::json> to_spec = v1::ParseStoredJsonObject(to->spec_json(), "spec");
  if (!to_spec.ok()) return absl::DataLossError(std::string(to_spec.status().message()));
  std::string patch = v1::CanonicalJson(nlohmann::json::diff(*from_spec, *to_spec));
  if (patch.size() > kMaxDiffPatchBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the patch from revision ", from->revision(), " (", from->spec_json().size(),
                     " bytes) to revision ", to->revision(), " (", to->spec_json().size(),
                     " bytes) is ", patch.size(), " bytes; the limit is ", kMaxDiffPatchBytes,
                     ": get the two revisions (GetPolicy) and compare them instead"));
  }
  v1::DiffPolicyResponse response;
  response.set_patch_json(std::move(patch));
  *response.mutable_from() = WithoutSpec(*std::move(from));
  *response.mutable_to() = WithoutSpec(*std::move(to));
  return response;
}

}  // namespace fleet::server
