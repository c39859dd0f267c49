#include "cli/output.h"

#include <algorithm>
#include <string>

#include "cli/terminal_text.h"
#include "cli/yaml_json.h"
#include "yaml-cpp/yaml.h"

namespace fleet::cli {
namespace {

void EmitYaml(const nlohmann::ordered_json& value, YAML::Emitter& out) {
  switch (value.type()) {
    case nlohmann::ordered_json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        // Keys read back as their text, but one with a control character must be quoted to
        // read back at all (fuzzing found a key with a newline).
        out << YAML::Key;
        if (NeedsQuotesInYaml(key)) out << YAML::DoubleQuoted;
        out << key << YAML::Value;
        EmitYaml(item, out);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::ordered_json::value_t::array:
      out << YAML::BeginSeq;
      for (const auto& item : value) EmitYaml(item, out);
      out << YAML::EndSeq;
      break;
    case nlohmann::ordered_json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      if (NeedsQuotesInYaml(text)) out << YAML::DoubleQuoted;
      out << text;
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
