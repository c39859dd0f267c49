#include "cli/yaml_json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <regex>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cli/terminal_text.h"
#include "common/utf8.h"
#include "yaml-cpp/depthguard.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/parser.h"

namespace fleet::cli {
namespace {

constexpr char kStrTag[] = "tag:yaml.org,2002:str";

// Whether `text` is `word` in one of the spellings YAML 1.2 accepts: word, Word, WORD.
bool IsCoreWord(const std::string& text, const std::string& word) {
  std::string capitalized = word;
  capitalized[0] = absl::ascii_toupper(static_cast<unsigned char>(capitalized[0]));
  return text == word || text == capitalized || text == absl::AsciiStrToUpper(word);
}

bool IsExact(int64_t value) { return value >= -kMaxExactInteger && value <= kMaxExactInteger; }

absl::StatusOr<nlohmann::json> DecimalInteger(const std::string& text) {
  int64_t value;
  if (!absl::SimpleAtoi(text, &value) || !IsExact(value)) {
    return absl::OutOfRangeError(InexactInteger(text));
  }
  return value;
}

absl::StatusOr<nlohmann::json> Float(const std::string& text) {
  const double value = std::strtod(text.c_str(), nullptr);
  if (!std::isfinite(value)) return absl::OutOfRangeError(OutsideDoubleRange(text));
  if (IsInexactDouble(value)) return absl::OutOfRangeError(InexactInteger(text));
  return value;
}

absl::StatusOr<nlohmann::json> RadixInteger(const std::string& digits, int base,
                                            const std::string& text) {
  errno = 0;
  const uint64_t value = std::strtoull(digits.c_str(), nullptr, base);
  if (errno == ERANGE || value > static_cast<uint64_t>(kMaxExactInteger)) {
    return absl::OutOfRangeError(InexactInteger(text));
  }
  return value;
}

// One YAML document tree to JSON, within a node budget shared by the documents of a file.
class YamlConverter {
 public:
  explicit YamlConverter(int64_t max_nodes) : max_nodes_(max_nodes), budget_(max_nodes) {}

  absl::StatusOr<nlohmann::json> Convert(const YAML::Node& root) {
    path_.clear();
    try {
      if (absl::Status measured = Measure(root, 0); !measured.ok()) return measured;
      path_.clear();
      return ToJson(root);
    } catch (const std::exception& e) {
      // yaml-cpp throws for nodes it cannot hand out; nothing here should reach it.
      return ErrorAt(last_line_, path_, absl::StrCat("cannot convert: ", e.what()));
    }
  }

 private:
  size_t LineOf(const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    if (!mark.is_null()) last_line_ = static_cast<size_t>(mark.line) + 1;
    return last_line_;
  }

  // Takes one node from the budget.
  absl::Status Spend(const YAML::Node& node) {
    if (--budget_ >= 0) return absl::OkStatus();
    return ErrorAt(LineOf(node), path_,
                   absl::StrCat("the file expands to more than ", max_nodes_,
                                " YAML nodes (aliases repeat what they name: an alias bomb?)"));
  }

  // Counts the nodes of `node` (aliases expanded) against the budget and checks its depth, before
  // anything is built. `depth`: the objects and arrays above `node`.
  absl::Status Measure(const YAML::Node& node, int depth) {
    if (absl::Status spent = Spend(node); !spent.ok()) return spent;
    if (!node.IsMap() && !node.IsSequence()) return absl::OkStatus();
    if (depth + 1 > kMaxDocumentDepth) return ErrorAt(LineOf(node), path_, TooDeep());
    size_t index = 0;
    for (const auto& entry : node) {
      const YAML::Node value = node.IsMap() ? entry.second : entry;
      if (node.IsMap()) {
        if (!entry.first.IsScalar()) {
          return ErrorAt(LineOf(entry.first), path_, "a mapping key must be a scalar");
        }
        if (absl::Status spent = Spend(entry.first); !spent.ok()) return spent;
        path_.push_back(entry.first.Scalar());
      } else {
        path_.push_back(IndexSegment(index++));
      }
      absl::Status measured = Measure(value, depth + 1);
      path_.pop_back();
      if (!measured.ok()) return measured;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> Text(const YAML::Node& node) {
    const std::string& text = node.Scalar();
    if (!IsValidUtf8(text)) return ErrorAt(LineOf(node), path_, "not well-formed UTF-8");
    return text;
  }

  absl::StatusOr<nlohmann::json> ToJson(const YAML::Node& node) {
    switch (node.Type()) {
      case YAML::NodeType::Map:
        return MapToJson(node);
      case YAML::NodeType::Sequence:
        return SequenceToJson(node);
      case YAML::NodeType::Scalar: {
        absl::StatusOr<std::string> text = Text(node);
        if (!text.ok()) return text.status();
        // yaml-cpp tags quoted and block scalars "!", plain ones "?" (or their explicit tag).
        if (node.Tag() == "!" || node.Tag() == kStrTag) return *std::move(text);
        absl::StatusOr<nlohmann::json> value = PlainScalarToJson(*text);
        if (!value.ok()) return ErrorAt(LineOf(node), path_, value.status().message());
        return value;
      }
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullptr;
    }
    return nullptr;
  }

  absl::StatusOr<nlohmann::json> MapToJson(const YAML::Node& node) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& entry : node) {
      absl::StatusOr<std::string> key = Text(entry.first);
      if (!key.ok()) return key.status();
      path_.push_back(*key);
      if (object.contains(*key)) {
        return ErrorAt(LineOf(entry.first), path_, "given twice in one mapping (duplicate key)");
      }
      absl::StatusOr<nlohmann::json> value = ToJson(entry.second);
      if (!value.ok()) return value.status();
      path_.pop_back();
      object[*key] = *std::move(value);
    }
    return object;
  }

  absl::StatusOr<nlohmann::json> SequenceToJson(const YAML::Node& node) {
    nlohmann::json array = nlohmann::json::array();
    for (const auto& item : node) {
      path_.push_back(IndexSegment(array.size()));
      absl::StatusOr<nlohmann::json> value = ToJson(item);
      if (!value.ok()) return value.status();
      path_.pop_back();
      array.push_back(*std::move(value));
    }
    return array;
  }

  const int64_t max_nodes_;
  int64_t budget_;
  size_t last_line_ = 1;
  std::vector<std::string> path_;
};

}  // namespace

absl::StatusOr<nlohmann::json> PlainScalarToJson(const std::string& text) {
  static const std::regex* const kDecimal = new std::regex("[-+]?[0-9]+");
  static const std::regex* const kFloat =
      new std::regex(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (text.empty() || text == "~" || IsCoreWord(text, "null")) return nullptr;
  if (IsCoreWord(text, "true")) return true;
  if (IsCoreWord(text, "false")) return false;
  if (std::regex_match(text, *kDecimal)) return DecimalInteger(text);
  if (std::regex_match(text, *kFloat)) return Float(text);
  static const std::regex* const kHex = new std::regex("0x[0-9a-fA-F]+");
  static const std::regex* const kOctal = new std::regex("0o[0-7]+");
  if (std::regex_match(text, *kHex)) return RadixInteger(text.substr(2), 16, text);
  if (std::regex_match(text, *kOctal)) return RadixInteger(text.substr(2), 8, text);
  return text;
}

absl::StatusOr<nlohmann::json> YamlToJson(const YAML::Node& node, int64_t max_nodes) {
  return YamlConverter(max_nodes).Convert(node);
}

int64_t MaxYamlNodes(const std::string& text) {
  return 2 * static_cast<int64_t>(text.size()) + 4096;
}

// OK when `text` is well-formed UTF-8 without C0 control characters other than tab, CR and LF,
// as YAML 1.2 requires of a stream (c-printable); else "LINE: ...". yaml-cpp must not see the rest:
// a NUL byte makes YAML::LoadAll loop forever, collecting empty documents until memory runs out.
absl::Status CheckYamlText(const std::string& text) {
  size_t line = 1;
  for (absl::string_view rest = text; !rest.empty(); ++line) {
    const size_t end = rest.find('\n');
    const absl::string_view current = rest.substr(0, end);
    rest = end == absl::string_view::npos ? absl::string_view() : rest.substr(end + 1);
    if (!IsValidUtf8(std::string_view(current.data(), current.size()))) {
      return absl::InvalidArgumentError(absl::StrCat(line, ": not well-formed UTF-8"));
    }
    for (const char c : current) {
      const auto byte = static_cast<unsigned char>(c);
      // DEL too is outside c-printable, but yaml-cpp reads it fine and its emitter writes it.
      if (byte < 0x20 && c != '\t' && c != '\r') {
        return absl::InvalidArgumentError(absl::StrCat(line, ": control character ",
                                                       EscapeForTerminal(std::string(1, c)),
                                                       " (YAML allows only tab, CR and LF)"));
      }
    }
  }
  return absl::OkStatus();
}

// Receives yaml-cpp's parse events and ignores them: for counting documents.
class IgnoreEvents : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// OK when yaml-cpp's parser gets through `text` in at most one document per byte. Fuzzing found
// text (",0[[") on which it never ends: YAML::LoadAll then collects empty documents forever. The
// parse is deterministic, so LoadAll ends wherever this does. Throws what the parser throws.
absl::Status CheckYamlEnds(const std::string& text) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  IgnoreEvents ignore;
  for (size_t documents = 0; parser.HandleNextDocument(ignore);) {
    if (++documents > text.size() + 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("1: malformed YAML: the parser makes no progress (", documents,
                       " documents in ", text.size(), " bytes)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SourceDocument>> ReadYamlDocuments(const std::string& text) {
  if (absl::Status checked = CheckYamlText(text); !checked.ok()) return checked;
  std::vector<YAML::Node> nodes;
  try {
    if (absl::Status ends = CheckYamlEnds(text); !ends.ok()) return ends;
    nodes = YAML::LoadAll(text);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp's own guard (2,000 levels), far past ours.
    return absl::InvalidArgumentError(absl::StrCat(std::max(e.mark.line, 0) + 1, ": ", TooDeep()));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::max(e.mark.line, 0) + 1,
                     ": malformed YAML: ", EscapeForTerminal(TruncateUtf8(e.msg, 256))));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("1: cannot read YAML: ", e.what()));
  }
  YamlConverter converter(MaxYamlNodes(text));
  std::vector<SourceDocument> documents;
  for (const YAML::Node& node : nodes) {
    if (node.IsNull()) continue;
    absl::StatusOr<nlohmann::json> document = converter.Convert(node);
    if (!document.ok()) return document.status();
    const YAML::Mark mark = node.Mark();
    documents.push_back(SourceDocument{.value = *std::move(document),
                                       .line = mark.is_null() ? 1 : size_t(mark.line) + 1});
  }
  return documents;
}

bool NeedsQuotesInYaml(const std::string& text) {
  static const absl::flat_hash_set<std::string>* const kYaml11Words =
      new absl::flat_hash_set<std::string>{"yes", "no",   "on",    "off",   "y",
                                           "n",   ".inf", "-.inf", "+.inf", ".nan"};
  // YAML 1.1 readers (PyYAML, Go's yaml.v2) turn these into dates and times.
  static const std::regex* const kTimestamp =
      new std::regex("[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?");
  // A plain scalar cannot hold control characters: a CR or tab in one reads back as something
  // else (fuzzing found "l\rl"). Double-quoted, the emitter escapes them.
  if (std::any_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; })) {
    return true;
  }
  const absl::StatusOr<nlohmann::json> value = PlainScalarToJson(text);
  if (!value.ok() || !value->is_string()) return true;
  double number;
  return absl::SimpleAtod(text, &number) || kYaml11Words->contains(absl::AsciiStrToLower(text)) ||
         std::regex_match(text, *kTimestamp);
}

}  // namespace fleet::cli
