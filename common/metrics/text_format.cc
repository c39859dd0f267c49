#include "common/metrics/text_format.h"

#include <charconv>
#include <cmath>

namespace fleet::metrics {
namespace {

std::string Escape(std::string_view text, bool quote) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '\n') {
      escaped += "\\n";
    } else if (quote && c == '"') {
      escaped += "\\\"";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

void AppendLabel(std::string& out, std::string_view name, std::string_view value) {
  if (out.size() > 1) out += ',';
  out.append(name);
  out += "=\"";
  out += EscapeLabelValue(value);
  out += '"';
}

}  // namespace

std::string EscapeHelp(std::string_view help) { return Escape(help, /*quote=*/false); }

std::string EscapeLabelValue(std::string_view value) { return Escape(value, /*quote=*/true); }

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, result.ptr);
}

std::string FormatLabels(const std::vector<std::string>& names,
                         const std::vector<std::string>& values, std::string_view extra_name,
                         std::string_view extra_value) {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    AppendLabel(out, names[i], values[i]);
  }
  if (!extra_name.empty()) AppendLabel(out, extra_name, extra_value);
  out += '}';
  return out;
}

}  // namespace fleet::metrics
