// Property: fleetctl's document parser (cli/documents.h: YAML, or JSON when the input starts
// with "{" or "["), fed any bytes, never crashes, throws, recurses without bound or eats memory
// (an alias bomb), and refuses with INVALID_ARGUMENT and a bounded, valid UTF-8 message starting
// with the source name. Every Policy it accepts has a spec fleetd's parser accepts
// (ParseCanonicalSpec), and prints as YAML (-o yaml) that reads back as the same request.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/documents.h"
#include "cli/output.h"
#include "cli/resource_json.h"
#include "common/utf8.h"
#include "fleet/v1/canonical_json.h"
#include "fuzz/fuzz_check.h"

namespace {

// A path cut at 64 bytes and quoted, a reason, and at most about 256 bytes quoted from the input.
constexpr size_t kMaxMessageBytes = 2048;

void CheckRefusal(const absl::Status& status) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument, status.ToString());
  const std::string message(status.message());
  FUZZ_CHECK(absl::StartsWith(message, "fuzz:"), message);
  FUZZ_CHECK(message.size() <= kMaxMessageBytes, message);
  FUZZ_CHECK(fleet::IsValidUtf8(message), message);
}

// Whether `text` holds U+FFFE, U+FFFF or one of their kin in another plane (U+nFFFE, U+nFFFF):
// yaml-cpp reads them as U+FFFD, escaped or not, so YAML cannot carry them (JSON can).
bool HasNoncharacter(const std::string& text) {
  for (size_t i = 2; i < text.size(); ++i) {
    const auto byte = [&text](size_t at) { return static_cast<unsigned char>(text[at]); };
    if ((byte(i) == 0xBE || byte(i) == 0xBF) && byte(i - 1) == 0xBF &&
        (byte(i - 2) == 0xEF || (byte(i - 2) & 0x0F) == 0x0F)) {
      return true;
    }
  }
  return false;
}

// What `fleetctl get policy -o yaml` prints for `request` reads back as `request`.
void CheckYamlRoundTrip(const fleet::v1::ApplyPolicyRequest& request) {
  if (HasNoncharacter(request.spec_json()) || HasNoncharacter(request.description()) ||
      HasNoncharacter(request.name())) {
    return;  // a known limit of YAML in yaml-cpp, noted in BUILD.md
  }
  fleet::v1::Policy policy;
  policy.set_name(request.name());
  policy.set_description(request.description());
  policy.set_spec_json(request.spec_json());
  policy.set_revision(7);
  std::ostringstream yaml;
  fleet::cli::WriteStructured(fleet::cli::PolicyToJson(policy), fleet::cli::OutputFormat::kYaml,
                              yaml);
  absl::StatusOr<std::vector<fleet::cli::Document>> again =
      fleet::cli::ParseDocuments(yaml.str(), "yaml");
  FUZZ_CHECK(again.ok(), absl::StrCat(again.status().ToString(), "\n", yaml.str()));
  FUZZ_CHECK(again->size() == 1, yaml.str());
  const auto* read = std::get_if<fleet::v1::ApplyPolicyRequest>(&(*again)[0]);
  FUZZ_CHECK(read != nullptr, yaml.str());
  FUZZ_CHECK(read->name() == request.name() && read->description() == request.description(),
             yaml.str());
  FUZZ_CHECK(
      read->spec_json() == request.spec_json(),
      absl::StrCat(yaml.str(), "\nwas: ", request.spec_json(), "\nnow: ", read->spec_json()));
  FUZZ_CHECK(read->expected_revision() == 7, yaml.str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<fleet::cli::Document>> documents =
      fleet::cli::ParseDocuments(text, "fuzz");
  if (!documents.ok()) {
    CheckRefusal(documents.status());
    return 0;
  }
  FUZZ_CHECK(!documents->empty(), text);
  for (const fleet::cli::Document& document : *documents) {
    const auto* policy = std::get_if<fleet::v1::ApplyPolicyRequest>(&document);
    if (policy == nullptr) continue;
    absl::StatusOr<fleet::v1::CanonicalSpec> accepted =
        fleet::v1::ParseCanonicalSpec(policy->spec_json(), "spec");
    FUZZ_CHECK(accepted.ok(),
               absl::StrCat(accepted.status().ToString(), "\n", policy->spec_json()));
    CheckYamlRoundTrip(*policy);
  }
  return 0;
}
