#include "server/model/validation.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace fleet::server {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsLabelChar(char c) {
  return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.';
}

// Quotes at most 64 bytes of `value`, escaped: an error echoes the input back, and an 8 KB name
// quoted in full would overflow the response's metadata.
absl::Status Invalid(std::string_view field, std::string_view value, std::string_view rule) {
  return absl::InvalidArgumentError(absl::StrCat(std::string(field), " ", QuoteForError(value),
                                                 " is invalid: ", std::string(rule)));
}

}  // namespace

absl::Status ValidateName(std::string_view field, std::string_view name) {
  constexpr std::string_view kRule =
      "use 1 to 63 characters of a-z, 0-9 and \"-\", starting and ending with a letter or digit";
  if (name.empty())
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), " is required"));
  if (name.size() > 63 || !IsLowerAlnum(name.front()) || !IsLowerAlnum(name.back())) {
    return Invalid(field, name, kRule);
  }
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '-') return Invalid(field, name, kRule);
  }
  return absl::OkStatus();
}

absl::Status ValidateDescription(std::string_view field, std::string_view description) {
  if (description.size() <= kMaxDescriptionBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(std::string(field), " is ", description.size(),
                                                 " bytes; the limit is ", kMaxDescriptionBytes));
}

absl::Status ValidateLabelKey(std::string_view field, std::string_view key) {
  if (key.empty() || key.size() > 63) {
    return Invalid(field, key, "label keys have 1 to 63 characters");
  }
  return ValidateLabelValue(field, key);
}

absl::Status ValidateLabelValue(std::string_view field, std::string_view value) {
  constexpr std::string_view kRule =
      "use up to 63 characters of a-z, A-Z, 0-9, \"-\", \"_\", \".\"";
  if (value.size() > 63) return Invalid(field, value, kRule);
  for (char c : value) {
    if (!IsLabelChar(c)) return Invalid(field, value, kRule);
  }
  return absl::OkStatus();
}

absl::Status ValidateId(std::string_view field, std::string_view id) {
  if (id.empty())
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), " is required"));
  bool ok = id.size() == 12;
  for (char c : id) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  return ok ? absl::OkStatus() : Invalid(field, id, "ids are 12 lowercase hex characters");
}

}  // namespace fleet::server
