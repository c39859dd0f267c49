#include "cli/yaml_json.h"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <regex>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace fleet::cli {
namespace {

constexpr char kStrTag[] = "tag:yaml.org,2002:str";

// Whether `text` is `word` in one of the spellings YAML 1.2 accepts: word, Word, WORD.
bool IsCoreWord(const std::string& text, const std::string& word) {
  std::string capitalized = word;
  capitalized[0] = absl::ascii_toupper(static_cast<unsigned char>(capitalized[0]));
  return text == word || text == capitalized || text == absl::AsciiStrToUpper(word);
}

nlohmann::json IntegerOrFloat(const std::string& text) {
  int64_t signed_value;
  if (absl::SimpleAtoi(text, &signed_value)) return signed_value;
  uint64_t unsigned_value;
  if (absl::SimpleAtoi(text, &unsigned_value)) return unsigned_value;
  return std::strtod(text.c_str(), nullptr);
}

nlohmann::json RadixInteger(const std::string& digits, int base, const std::string& text) {
  errno = 0;
  const uint64_t value = std::strtoull(digits.c_str(), nullptr, base);
  if (errno == ERANGE) return text;
  return value;
}

std::string LineOf(const YAML::Node& node) { return absl::StrCat("line ", node.Mark().line + 1); }

absl::StatusOr<nlohmann::json> MapToJson(const YAML::Node& node) {
  nlohmann::json object = nlohmann::json::object();
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat(LineOf(entry.first), ": a mapping key must be a scalar"));
    }
    const std::string& key = entry.first.Scalar();
    if (object.contains(key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(LineOf(entry.first), ": key \"", key, "\" is given twice"));
    }
    absl::StatusOr<nlohmann::json> value = YamlToJson(entry.second);
    if (!value.ok()) return value.status();
    object[key] = *std::move(value);
  }
  return object;
}

absl::StatusOr<nlohmann::json> SequenceToJson(const YAML::Node& node) {
  nlohmann::json array = nlohmann::json::array();
  for (const auto& item : node) {
    absl::StatusOr<nlohmann::json> value = YamlToJson(item);
    if (!value.ok()) return value.status();
    array.push_back(*std::move(value));
  }
  return array;
}

}  // namespace

nlohmann::json PlainScalarToJson(const std::string& text) {
  static const std::regex* const kDecimal = new std::regex("[-+]?[0-9]+");
  static const std::regex* const kFloat =
      new std::regex(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (text.empty() || text == "~" || IsCoreWord(text, "null")) return nullptr;
  if (IsCoreWord(text, "true")) return true;
  if (IsCoreWord(text, "false")) return false;
  if (std::regex_match(text, *kDecimal)) return IntegerOrFloat(text);
  if (std::regex_match(text, *kFloat)) return std::strtod(text.c_str(), nullptr);
  static const std::regex* const kHex = new std::regex("0x[0-9a-fA-F]+");
  static const std::regex* const kOctal = new std::regex("0o[0-7]+");
  if (std::regex_match(text, *kHex)) return RadixInteger(text.substr(2), 16, text);
  if (std::regex_match(text, *kOctal)) return RadixInteger(text.substr(2), 8, text);
  return text;
}

absl::StatusOr<nlohmann::json> YamlToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return MapToJson(node);
    case YAML::NodeType::Sequence:
      return SequenceToJson(node);
    case YAML::NodeType::Scalar:
      // yaml-cpp tags quoted and block scalars "!", plain ones "?" (or their explicit tag).
      if (node.Tag() == "!" || node.Tag() == kStrTag) return node.Scalar();
      return PlainScalarToJson(node.Scalar());
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
  }
  return nullptr;
}

bool NeedsQuotesInYaml(const std::string& text) {
  static const absl::flat_hash_set<std::string>* const kYaml11Words =
      new absl::flat_hash_set<std::string>{"yes", "no",   "on",    "off",   "y",
                                           "n",   ".inf", "-.inf", "+.inf", ".nan"};
  // YAML 1.1 readers (PyYAML, Go's yaml.v2) turn these into dates and times.
  static const std::regex* const kTimestamp =
      new std::regex("[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?");
  const nlohmann::json value = PlainScalarToJson(text);
  if (!value.is_string()) return true;
  double number;
  return absl::SimpleAtod(text, &number) || kYaml11Words->contains(absl::AsciiStrToLower(text)) ||
         std::regex_match(text, *kTimestamp);
}

}  // namespace fleet::cli
