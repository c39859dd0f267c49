#include "cli/output.h"

#include <algorithm>
#include <string>

#include "cli/terminal_text.h"
#include "cli/yaml_json.h"
#include "yaml-cpp/yaml.h"

namespace fleet::cli {
namespace {

// Whether `text` holds a code point a YAML stream cannot carry as is (outside c-printable:
// U+FFFE, U+FFFF and their kin in other planes) or that readers drop (U+FEFF, a byte order mark):
// yaml-cpp reads them as U+FFFD, or not at all (fuzzing found U+FFFF).
bool NeedsEscapedCodePoints(const std::string& text) {
  for (size_t i = 0; i + 2 < text.size(); ++i) {
    const auto byte = [&text](size_t at) { return static_cast<unsigned char>(text[at]); };
    if (byte(i) == 0xEF && byte(i + 1) == 0xBB && byte(i + 2) == 0xBF) return true;  // U+FEFF
    if (byte(i + 1) == 0xBF && (byte(i + 2) == 0xBE || byte(i + 2) == 0xBF)) {
      // The last two bytes of U+FFFE, U+FFFF (EF BF BE) or U+nFFFE, U+nFFFF (F? ?F BF BE).
      if (byte(i) == 0xEF || (i > 0 && (byte(i) & 0x0F) == 0x0F && byte(i - 1) >= 0xF0)) {
        return true;
      }
    }
  }
  return false;
}

// A key or a string value: plain when it reads back as itself, else double-quoted, with \u
// escapes for what YAML cannot carry raw.
void EmitString(const std::string& text, YAML::Emitter& out) {
  if (NeedsEscapedCodePoints(text)) {
    out << YAML::EscapeNonAscii << YAML::DoubleQuoted;
  } else if (NeedsQuotesInYaml(text)) {
    out << YAML::DoubleQuoted;
  }
  out << text;
}

void EmitYaml(const nlohmann::ordered_json& value, YAML::Emitter& out) {
  switch (value.type()) {
    case nlohmann::ordered_json::value_t::object:
      // An empty map or list on one line ("labels: {}"), as kubectl prints it.
      if (value.empty()) out << YAML::Flow;
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        // Keys read back as their text, but one with a control character must be quoted to
        // read back at all (fuzzing found a key with a newline).
        out << YAML::Key;
        EmitString(key, out);
        out << YAML::Value;
        EmitYaml(item, out);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::ordered_json::value_t::array:
      if (value.empty()) out << YAML::Flow;
      out << YAML::BeginSeq;
      for (const auto& item : value) EmitYaml(item, out);
      out << YAML::EndSeq;
      break;
    case nlohmann::ordered_json::value_t::string: {
      EmitString(value.get_ref<const std::string&>(), out);
      break;
    }
    case nlohmann::ordered_json::value_t::null:
      out << YAML::Null;
      break;
    default:  // numbers and booleans print the same in JSON and YAML
      out << value.dump();
      break;
  }
}

}  // namespace

void WriteStructured(const nlohmann::ordered_json& value, OutputFormat format, std::ostream& out) {
  if (format == OutputFormat::kYaml) {
    YAML::Emitter emitter;
    emitter.SetNullFormat(YAML::LowerNull);  // "null", as in JSON and docs/output.md, not "~"
    EmitYaml(value, emitter);
    out << emitter.c_str() << "\n";
    return;
  }
  // Replace rather than throw on ill-formed UTF-8: what fleetd sends is shown, never a crash.
  out << value.dump(2, ' ', /*ensure_ascii=*/false,
                    nlohmann::ordered_json::error_handler_t::replace)
      << "\n";
}

void WriteKeyValueTable(const std::vector<std::pair<std::string, std::string>>& rows,
                        std::ostream& out) {
  size_t width = 0;
  for (const auto& [label, value] : rows) width = std::max(width, label.size());
  for (const auto& [label, value] : rows) {
    out << label << ":" << std::string(width - label.size() + 2, ' ') << EscapeForTerminal(value)
        << "\n";
  }
}

}  // namespace fleet::cli
