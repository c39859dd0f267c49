#include "agent/policy_applier.h"

#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "fleet/v1/canonical_json.h"

namespace fleet::agent {
namespace {

constexpr size_t kMaxNackReasonBytes = 1024;

// Inside this file a refusal that a FULL document would cure (the agent's base is unusable) is
// FAILED_PRECONDITION; any other code is a refusal that a FULL would not change.
bool NeedsFull(const absl::Status& status) {
  return status.code() == absl::StatusCode::kFailedPrecondition;
}

absl::Status BaseUnusable(std::string message) {
  return absl::FailedPreconditionError(std::move(message));
}

// `text` cut to at most `limit` bytes, never inside a UTF-8 sequence.
std::string Truncated(std::string text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text;
}

// Whether `value` nests arrays and objects more than `limit` levels deep. Iterative, because a
// value from the network may be nested deeper than recursion could follow.
bool NestedDeeperThan(const nlohmann::json& value, int limit) {
  std::vector<std::pair<const nlohmann::json*, int>> pending = {{&value, 1}};
  while (!pending.empty()) {
    const auto [node, depth] = pending.back();
    pending.pop_back();
    if (!node->is_structured()) continue;
    if (depth > limit) return true;
    for (const nlohmann::json& child : *node) pending.emplace_back(&child, depth + 1);
  }
  return false;
}

// Parses a JSON Patch. Its size is bounded by the transport's message limit; its nesting is
// bounded here like a spec's, because applying and hashing it recurse.
absl::StatusOr<nlohmann::json> ParsePatch(const std::string& text) {
  nlohmann::json patch = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (patch.is_discarded()) return BaseUnusable("patch_json is not valid JSON");
  if (!patch.is_array()) {
    return BaseUnusable(absl::StrCat("patch_json must be a JSON array, not ", patch.type_name()));
  }
  // fleetd's patches hold values of a spec's depth inside two levels of their own (the array
  // and the operation), less the spec's top level: one more than a spec.
  if (NestedDeeperThan(patch, v1::kMaxSpecDepth + 1)) {
    return BaseUnusable(absl::StrCat("patch_json nests objects and arrays more than ",
                                     v1::kMaxSpecDepth + 1, " levels deep"));
  }
  return patch;
}

ApplyOutcome Refused(int64_t revision, const absl::Status& why) {
  return ApplyOutcome{.applied = false,
                      .revision = revision,
                      .nack_reason = Truncated(std::string(why.message()), kMaxNackReasonBytes),
                      .needs_full = NeedsFull(why)};
}

}  // namespace

v1::AgentMessage ApplyOutcome::Reply() const {
  v1::AgentMessage message;
  if (applied) {
    message.mutable_ack()->set_revision(revision);
    message.mutable_ack()->set_sha256(sha256);
  } else {
    message.mutable_nack()->set_revision(revision);
    message.mutable_nack()->set_reason(nack_reason);
    message.mutable_nack()->set_needs_full(needs_full);
  }
  return message;
}

absl::StatusOr<PolicyApplier> PolicyApplier::Restore(std::string policy, int64_t revision,
                                                     std::string_view document_json) {
  if (policy.empty()) return absl::InvalidArgumentError("policy must not be empty");
  if (revision <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("revision must be positive, not ", revision));
  }
  absl::StatusOr<nlohmann::json> document = v1::ParseJsonObject(document_json, "document_json");
  if (!document.ok()) return document.status();
  PolicyApplier applier;
  applier.policy_ = std::move(policy);
  applier.revision_ = revision;
  auto content = std::make_shared<PolicyContent>();
  content->canonical_json = v1::CanonicalJson(*document);  // parsed, so valid UTF-8: no throw
  content->sha256 = v1::Sha256Hex(content->canonical_json);
  content->document = *std::move(document);
  applier.content_ = std::move(content);
  return applier;
}

ApplyOutcome PolicyApplier::Apply(const v1::PolicyUpdate& update, ApplyCache* cache) {
  const int64_t target_revision = update.target_revision();
  // Policy and base revision must still match for a DELTA (Target checks them), so a cached
  // content is used only where computing it would have succeeded.
  const bool base_matches = update.kind() != v1::PolicyUpdate::DELTA ||
                            (update.policy() == policy_ && update.base_revision() == revision_);
  if (cache != nullptr && base_matches) {
    if (std::shared_ptr<const PolicyContent> known = cache->Find(sha256(), update)) {
      policy_ = update.policy();
      revision_ = target_revision;
      content_ = std::move(known);
      return ApplyOutcome{.applied = true, .revision = revision_, .sha256 = sha256()};
    }
  }
  absl::StatusOr<nlohmann::json> target;
  std::string canonical;
  try {
    target = Target(update);
    if (target.ok()) canonical = v1::CanonicalJson(*target);
  } catch (const nlohmann::json::exception& e) {
    // Not expected (parsed JSON is valid UTF-8, so dumping it does not throw), but never fatal.
    target = BaseUnusable(absl::StrCat("cannot apply the update: ", e.what()));
  }
  if (!target.ok()) return Refused(target_revision, target.status());

  std::string sha256 = v1::Sha256Hex(canonical);
  if (sha256 != update.sha256()) {
    return Refused(target_revision, BaseUnusable(absl::StrCat(
                                        "content hash ", sha256, " of revision ", target_revision,
                                        " does not match the update's \"", update.sha256(), "\"")));
  }
  auto content =
      std::make_shared<PolicyContent>(PolicyContent{.document = *std::move(target),
                                                    .canonical_json = std::move(canonical),
                                                    .sha256 = std::move(sha256)});
  if (cache != nullptr) cache->Record(this->sha256(), update, content);
  policy_ = update.policy();
  revision_ = target_revision;
  content_ = std::move(content);
  return ApplyOutcome{.applied = true, .revision = revision_, .sha256 = this->sha256()};
}

std::string ApplyCache::Key(const std::string& before_sha256, const v1::PolicyUpdate& update) {
  // The update's identity: what it is from and to, and the content it promises.
  return absl::StrCat(before_sha256, "|", update.kind(), "|", update.policy(), "|",
                      update.base_revision(), "|", update.target_revision(), "|", update.sha256());
}

std::shared_ptr<const PolicyContent> ApplyCache::Find(const std::string& before_sha256,
                                                      const v1::PolicyUpdate& update) {
  const std::string key = Key(before_sha256, update);
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second;
}

void ApplyCache::Record(const std::string& before_sha256, const v1::PolicyUpdate& update,
                        std::shared_ptr<const PolicyContent> after) {
  std::string key = Key(before_sha256, update);
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= kMaxEntries) entries_.clear();
  entries_.insert_or_assign(std::move(key), std::move(after));
}

absl::StatusOr<nlohmann::json> PolicyApplier::Target(const v1::PolicyUpdate& update) const {
  if (update.policy().empty()) return absl::InvalidArgumentError("the update names no policy");
  if (update.target_revision() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("target revision must be positive, not ", update.target_revision()));
  }
  switch (update.kind()) {
    case v1::PolicyUpdate::FULL:
      return v1::ParseJsonObject(update.document_json(), "document_json");
    case v1::PolicyUpdate::DELTA:
      return PatchedDocument(update);
    default:
      return BaseUnusable(
          absl::StrCat("update kind ", static_cast<int>(update.kind()), " is not DELTA or FULL"));
  }
}

absl::StatusOr<nlohmann::json> PolicyApplier::PatchedDocument(
    const v1::PolicyUpdate& update) const {
  if (!has_policy()) return BaseUnusable("a DELTA needs an applied policy, and none is applied");
  if (update.policy() != policy_) {
    return BaseUnusable(absl::StrCat("a DELTA for policy \"", update.policy(),
                                     "\" cannot apply to policy \"", policy_, "\""));
  }
  if (update.base_revision() != revision_) {
    return BaseUnusable(absl::StrCat("base revision ", update.base_revision(),
                                     " is not the applied revision ", revision_));
  }
  absl::StatusOr<nlohmann::json> patch = ParsePatch(update.patch_json());
  if (!patch.ok()) return patch.status();
  nlohmann::json patched;
  try {
    patched = document().patch(*patch);
  } catch (const nlohmann::json::exception& e) {
    // How json::patch reports a patch that does not apply: a missing path, a failed "test".
    return BaseUnusable(absl::StrCat("patch does not apply: ", e.what()));
  }
  // A patch may replace the root ("path": ""); a spec is always an object.
  if (!patched.is_object()) {
    return BaseUnusable(
        absl::StrCat("the patched document must be a JSON object, not ", patched.type_name()));
  }
  // As a FULL document would be refused (and Restore would refuse it after a restart).
  if (NestedDeeperThan(patched, v1::kMaxSpecDepth)) {
    return BaseUnusable(absl::StrCat("the patched document nests objects and arrays more than ",
                                     v1::kMaxSpecDepth, " levels deep"));
  }
  return patched;
}

v1::Hello PolicyApplier::HelloMessage() const {
  v1::Hello hello;
  hello.set_policy(policy_);
  hello.set_applied_revision(revision_);
  hello.set_applied_sha256(sha256());
  return hello;
}

}  // namespace fleet::agent
