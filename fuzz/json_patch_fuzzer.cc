// Property: for two documents a and b (the input split at its first NUL byte, each accepted by
// ParseJsonObject), the RFC 6902 patch fleetd sends for them (json::diff in canonical JSON, as
// PrepareUpdate makes it) turns a into b, and the agent client core, holding a, applies it as a
// DELTA to content whose hash is b's.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "agent/policy_applier.h"
#include "fleet/v1/agent.pb.h"
#include "fleet/v1/canonical_json.h"
#include "fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nlohmann::json;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t split = input.find('\0');
  if (split == std::string_view::npos) return 0;
  absl::StatusOr<json> a = fleet::v1::ParseJsonObject(input.substr(0, split), "a");
  absl::StatusOr<json> b = fleet::v1::ParseJsonObject(input.substr(split + 1), "b");
  if (!a.ok() || !b.ok()) return 0;
  const std::string a_canonical = fleet::v1::CanonicalJson(*a);
  const std::string b_canonical = fleet::v1::CanonicalJson(*b);
  const std::string patch = fleet::v1::CanonicalJson(json::diff(*a, *b));
  const std::string context =
      absl::StrCat("a: ", a_canonical, "\nb: ", b_canonical, "\npatch: ", patch);

  json patched;
  try {
    patched = a->patch(json::parse(patch));
  } catch (const json::exception& e) {
    FUZZ_CHECK(false, absl::StrCat(e.what(), "\n", context));
  }
  FUZZ_CHECK(patched == *b, context);
  FUZZ_CHECK(fleet::v1::CanonicalJson(patched) == b_canonical, context);

  absl::StatusOr<fleet::agent::PolicyApplier> applier =
      fleet::agent::PolicyApplier::Restore("p", 1, a_canonical);
  FUZZ_CHECK(applier.ok(), absl::StrCat(applier.status().ToString(), "\n", context));
  fleet::v1::PolicyUpdate update;
  update.set_kind(fleet::v1::PolicyUpdate::DELTA);
  update.set_policy("p");
  update.set_base_revision(1);
  update.set_target_revision(2);
  update.set_patch_json(patch);
  update.set_sha256(fleet::v1::Sha256Hex(b_canonical));
  const fleet::agent::ApplyOutcome outcome = applier->Apply(update, nullptr);
  FUZZ_CHECK(outcome.applied, absl::StrCat(outcome.nack_reason, "\n", context));
  FUZZ_CHECK(applier->canonical_json() == b_canonical, context);
  FUZZ_CHECK(outcome.sha256 == update.sha256(), context);
  return 0;
}
