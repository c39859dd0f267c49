// Property: whatever ParseJsonObject accepts, its CanonicalJson (RFC 8785) parses again to the
// same value and serializes to the same bytes: a fixed point. Whatever it refuses, it refuses
// with INVALID_ARGUMENT or RESOURCE_EXHAUSTED and a short, valid UTF-8 message.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "fleet/v1/canonical_json.h"
#include "fuzz/fuzz_check.h"

namespace {

// Path (at most about 256 bytes), reason and a quote of at most 64 input bytes, escaped.
constexpr size_t kMaxMessageBytes = 2048;

void CheckRefusal(const absl::Status& status) {
  FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument ||
                 status.code() == absl::StatusCode::kResourceExhausted,
             status.ToString());
  const std::string message(status.message());
  FUZZ_CHECK(message.size() <= kMaxMessageBytes, message);
  FUZZ_CHECK(fleet::IsValidUtf8(message), message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<nlohmann::json> parsed = fleet::v1::ParseJsonObject(text, "spec");
  if (!parsed.ok()) {
    CheckRefusal(parsed.status());
    return 0;
  }
  const std::string canonical = fleet::v1::CanonicalJson(*parsed);
  FUZZ_CHECK(fleet::IsValidUtf8(canonical), canonical);
  absl::StatusOr<nlohmann::json> again = fleet::v1::ParseJsonObject(canonical, "canonical");
  if (!again.ok() && canonical.size() > fleet::v1::kMaxSpecBytes) return 0;  // grew past the limit
  FUZZ_CHECK(again.ok(), absl::StrCat(again.status().ToString(), "\ncanonical: ", canonical));
  FUZZ_CHECK(*again == *parsed, canonical);
  const std::string twice = fleet::v1::CanonicalJson(*again);
  FUZZ_CHECK(twice == canonical, absl::StrCat("first:  ", canonical, "\nsecond: ", twice));
  return 0;
}
