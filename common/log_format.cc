#include "common/log_format.h"

#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/log_fields.h"
#include "common/utf8.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace fleet {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void Append(spdlog::memory_buf_t& out, std::string_view text) {
  out.append(text.data(), text.data() + text.size());
}

std::string FormatTime(const spdlog::log_clock::time_point& time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::FromChrono(time), absl::UTCTimeZone());
}

// What a line may hold of `text`: valid UTF-8, whole (SanitizeUtf8 cuts only at its limit).
std::string Sanitized(std::string_view text) { return SanitizeUtf8(text, text.size() * 3); }

// `text` as the body of a JSON string (RFC 8259): quotes, backslashes and control characters
// escaped. After Sanitized every byte at or above 0x80 belongs to a valid sequence, kept as is.
void AppendJsonString(spdlog::memory_buf_t& out, std::string_view text) {
  out.push_back('"');
  for (char c : Sanitized(text)) {
    const auto byte = static_cast<uint8_t>(c);
    switch (c) {
      case '"':
        Append(out, "\\\"");
        break;
      case '\\':
        Append(out, "\\\\");
        break;
      case '\n':
        Append(out, "\\n");
        break;
      case '\r':
        Append(out, "\\r");
        break;
      case '\t':
        Append(out, "\\t");
        break;
      default:
        if (byte < 0x20 || byte == 0x7F) {
          const char escape[] = {'\\', 'u', '0', '0', kHex[byte >> 4], kHex[byte & 0xF]};
          out.append(escape, escape + sizeof(escape));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// `text` for a text line: control characters escaped, so that no message can start a line of
// its own.
void AppendTextEscaped(spdlog::memory_buf_t& out, std::string_view text) {
  for (char c : Sanitized(text)) {
    const auto byte = static_cast<uint8_t>(c);
    if (c == '\n') {
      Append(out, "\\n");
    } else if (c == '\t') {
      Append(out, "\\t");
    } else if (byte < 0x20 || byte == 0x7F) {
      const char escape[] = {'\\', 'x', kHex[byte >> 4], kHex[byte & 0xF]};
      out.append(escape, escape + sizeof(escape));
    } else {
      out.push_back(c);
    }
  }
}

// Whether a text field's value needs quotes to read back as one value.
bool NeedsQuotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    const auto byte = static_cast<uint8_t>(c);
    if (c == ' ' || c == '"' || c == '=' || c == '\\' || byte < 0x20 || byte == 0x7F) return true;
  }
  return false;
}

void AppendFieldValue(spdlog::memory_buf_t& out, const LogField& field, bool json) {
  switch (field.kind()) {
    case LogField::Kind::kInteger:
      Append(out, absl::StrCat(field.integer()));
      return;
    case LogField::Kind::kBool:
      Append(out, field.integer() != 0 ? "true" : "false");
      return;
    case LogField::Kind::kString:
      if (json) {
        AppendJsonString(out, field.text());
      } else if (NeedsQuotes(field.text())) {
        Append(out, QuoteForError(field.text(), field.text().size()));
      } else {
        AppendTextEscaped(out, field.text());
      }
      return;
  }
}

class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    Append(dest, FormatTime(msg.time));
    dest.push_back(' ');
    // The color sink colors this range by level when stderr is a terminal.
    msg.color_range_start = dest.size();
    Append(dest, LevelName(msg.level));
    msg.color_range_end = dest.size();
    dest.push_back(' ');
    AppendTextEscaped(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    for (const LogField& field : CurrentLogFields()) {
      dest.push_back(' ');
      Append(dest, field.key());
      dest.push_back('=');
      AppendFieldValue(dest, field, /*json=*/false);
    }
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }
};

class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    Append(dest, "{\"time\":");
    AppendJsonString(dest, FormatTime(msg.time));
    Append(dest, ",\"level\":");
    AppendJsonString(dest, LevelName(msg.level));
    Append(dest, ",\"msg\":");
    AppendJsonString(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    for (const LogField& field : CurrentLogFields()) {
      dest.push_back(',');
      AppendJsonString(dest, field.key());
      dest.push_back(':');
      AppendFieldValue(dest, field, /*json=*/true);
    }
    Append(dest, "}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

std::optional<LogFormat> ParseLogFormat(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return std::nullopt;
}

std::string_view LevelName(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
    case spdlog::level::critical:
      return "error";
    default:
      return "off";
  }
}

std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format) {
  if (format == LogFormat::kJson) return std::make_unique<JsonFormatter>();
  return std::make_unique<TextFormatter>();
}

void SetUpStderrLog(LogFormat format, spdlog::level::level_enum level) {
  // JSON lines are for machines: no color codes inside them, even on a terminal.
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(
      format == LogFormat::kJson ? spdlog::color_mode::never : spdlog::color_mode::automatic);
  sink->set_formatter(MakeLogFormatter(format));
  auto logger = std::make_shared<spdlog::logger>("fleetd", std::move(sink));
  logger->set_level(level);
  spdlog::set_default_logger(std::move(logger));
  spdlog::set_level(level);
}

}  // namespace fleet
