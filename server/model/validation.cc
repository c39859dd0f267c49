#include "server/model/validation.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/utf8.h"

namespace fleet::server {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsLabelChar(char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; }

// Kubernetes' qualified-name part: 1 to 63 label characters, alphanumeric at both ends.
bool IsLabelName(std::string_view name) {
  if (name.empty() || name.size() > 63 || !IsAlnum(name.front()) || !IsAlnum(name.back())) {
    return false;
  }
  for (char c : name) {
    if (!IsLabelChar(c)) return false;
  }
  return true;
}

// RFC 1123 subdomain: dot-separated DNS labels, at most 253 characters in all.
bool IsDnsSubdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(absl::string_view(name.data(), name.size()), '.')) {
    if (label.empty() || label.size() > 63 || !IsLowerAlnum(label.front()) ||
        !IsLowerAlnum(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!IsLowerAlnum(c) && c != '-') return false;
    }
  }
  return true;
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
  constexpr std::string_view kRule =
      "label keys are NAME or PREFIX/NAME: NAME 1 to 63 characters of a-z, A-Z, 0-9, \"-\", "
      "\"_\", \".\", starting and ending with a letter or digit; PREFIX a DNS subdomain of up to "
      "253 characters (e.g. example.com)";
  std::string_view name = key;
  if (size_t slash = key.find('/'); slash != std::string_view::npos) {
    if (!IsDnsSubdomain(key.substr(0, slash))) return Invalid(field, key, kRule);
    name = key.substr(slash + 1);
  }
  if (name.empty() || !IsLabelName(name)) return Invalid(field, key, kRule);
  return absl::OkStatus();
}

absl::Status ValidateLabelValue(std::string_view field, std::string_view value) {
  constexpr std::string_view kRule =
      "label values are empty or 1 to 63 characters of a-z, A-Z, 0-9, \"-\", \"_\", \".\", "
      "starting and ending with a letter or digit";
  if (!value.empty() && !IsLabelName(value)) return Invalid(field, value, kRule);
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
