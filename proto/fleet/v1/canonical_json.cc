#include "fleet/v1/canonical_json.h"

#include <openssl/sha.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace fleet::v1 {

absl::StatusOr<nlohmann::json> ParseJsonObject(std::string_view text, std::string_view field) {
  const std::string name(field);
  if (text.size() > kMaxSpecBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(name, " is ", text.size(), " bytes; the limit is ", kMaxSpecBytes));
  }
  // The parser is iterative, but dump() and diff() recurse: bound the nesting before them.
  bool too_deep = false;
  auto depth_guard = [&too_deep](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    if ((event == nlohmann::json::parse_event_t::object_start ||
         event == nlohmann::json::parse_event_t::array_start) &&
        depth >= kMaxSpecDepth) {
      too_deep = true;
      return false;  // skip the value; the whole document is refused below
    }
    return true;
  };
  nlohmann::json value;
  try {
    value = nlohmann::json::parse(text, depth_guard);
  } catch (const nlohmann::json::parse_error& e) {
    // The parser's message names the line and column.
    return absl::InvalidArgumentError(absl::StrCat(name, " is not valid JSON: ", e.what()));
  } catch (const nlohmann::json::out_of_range&) {
    // A number too big for a double (1e400): the parser's message would quote all its digits.
    return absl::InvalidArgumentError(
        absl::StrCat(name, " holds a number outside the range of a double (IEEE 754)"));
  }
  if (too_deep) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " nests objects and arrays more than ", kMaxSpecDepth, " levels deep"));
  }
  if (!value.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be a JSON object, not ", value.type_name()));
  }
  return value;
}

std::string CanonicalJson(const nlohmann::json& value) {
  // nlohmann::json keeps object members in a std::map: dump() writes them sorted by name.
  return value.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::strict);
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace fleet::v1
