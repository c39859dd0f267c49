// The agent's side of policy delivery (agent.proto, "Life of an agent", step 3): apply each
// PolicyUpdate to a copy of the last good policy, check the content hash, switch, and say Ack or
// Nack.
#ifndef FLEETD_AGENT_POLICY_APPLIER_H_
#define FLEETD_AGENT_POLICY_APPLIER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "fleet/v1/agent.pb.h"
#include "nlohmann/json.hpp"

namespace fleet::agent {

// What became of one PolicyUpdate.
struct ApplyOutcome {
  // True when the update is now the applied policy (answer Ack), false when the last good policy
  // stays (answer Nack).
  bool applied = false;
  // The update's target revision: the one acknowledged or refused.
  int64_t revision = 0;
  // When applied: the hash of the new content (equal to the update's sha256).
  std::string sha256;
  // When not applied: why, for people; at most 1,024 bytes, as Nack.reason allows.
  std::string nack_reason;
  // When not applied: the agent cannot use a DELTA from the server's idea of its base (hash
  // mismatch, wrong or missing base, a patch that does not apply): the server sends FULL next.
  bool needs_full = false;

  // The Ack or Nack that answers the update.
  v1::AgentMessage Reply() const;
};

// Applied content, immutable once made, so that agents holding the same revision can share it.
struct PolicyContent {
  nlohmann::json document = nlohmann::json::object();
  std::string canonical_json;
  std::string sha256;
};

class ApplyCache;

// The last good policy of one agent: its name, applied revision, parsed document, canonical text
// and SHA-256. Starts with nothing applied (revision 0), or from what an agent persisted.
//
// Thread-compatible: one agent's stream drives it; copies are independent.
class PolicyApplier {
 public:
  // Nothing applied: Hello says revision 0 and no hash, and only a FULL can be applied.
  PolicyApplier() = default;

  // The state an agent saved earlier: `document_json` applied as `revision` of `policy`.
  // INVALID_ARGUMENT when the policy is empty, the revision is not positive, or the document is
  // not a JSON object within fleet::v1's limits.
  [[nodiscard]] static absl::StatusOr<PolicyApplier> Restore(std::string policy, int64_t revision,
                                                             std::string_view document_json);

  // Applies `update` to a copy of the last good policy and, when the result's canonical hash
  // equals update.sha256, makes it the last good policy. Otherwise the last good policy stays
  // as it was and the outcome says why. Never throws.
  //
  // FULL: document_json must be a JSON object; the policy may differ from the applied one (the
  // agent was reassigned). DELTA: the applied policy must be update.policy and the applied
  // revision must be base_revision; patch_json is an RFC 6902 JSON Patch whose result must be a
  // JSON object. Any other kind is refused asking for FULL.
  //
  // With `cache`, an update that another applier already applied to the same content yields the
  // content it made (shared, not recomputed): a simulator's thousands of agents then pay for
  // each change once. Outcomes are the same with or without it.
  ApplyOutcome Apply(const v1::PolicyUpdate& update, ApplyCache* cache = nullptr);

  // The Hello that opens a stream: applied policy, revision and hash (empty, 0, empty for none).
  v1::Hello HelloMessage() const;

  bool has_policy() const { return revision_ > 0; }
  const std::string& policy() const { return policy_; }
  int64_t revision() const { return revision_; }
  // An empty object when nothing is applied.
  const nlohmann::json& document() const { return content_->document; }
  const std::string& canonical_json() const { return content_->canonical_json; }
  const std::string& sha256() const { return content_->sha256; }

 private:
  // The content `update` leads to, or the Nack it deserves.
  absl::StatusOr<nlohmann::json> Target(const v1::PolicyUpdate& update) const;
  absl::StatusOr<nlohmann::json> PatchedDocument(const v1::PolicyUpdate& update) const;

  std::string policy_;
  int64_t revision_ = 0;
  std::shared_ptr<const PolicyContent> content_ = std::make_shared<const PolicyContent>();
};

// Contents that updates led to, by (content before, update): thread-safe, bounded (it forgets
// everything when full, which only costs recomputation).
class ApplyCache {
 public:
  // The content `update` makes of `before`, if an applier recorded it.
  std::shared_ptr<const PolicyContent> Find(const std::string& before_sha256,
                                            const v1::PolicyUpdate& update);
  void Record(const std::string& before_sha256, const v1::PolicyUpdate& update,
              std::shared_ptr<const PolicyContent> after);

 private:
  static constexpr size_t kMaxEntries = 256;
  static std::string Key(const std::string& before_sha256, const v1::PolicyUpdate& update);

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const PolicyContent>> entries_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_POLICY_APPLIER_H_
