#include "cli/terminal_text.h"

#include <cstdint>

#include "absl/strings/str_format.h"
#include "common/utf8.h"

namespace fleet::cli {
namespace {

// The length of the well-formed UTF-8 sequence `text` starts with, or 0 when it does not start
// with one.
size_t SequenceLength(std::string_view text) {
  const auto lead = static_cast<uint8_t>(text[0]);
  const size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
  if (length > text.size() || !IsValidUtf8(text.substr(0, length))) return 0;
  return length;
}

// The code point of the well-formed sequence `sequence`.
uint32_t CodePoint(std::string_view sequence) {
  const auto byte = [&sequence](size_t i) { return static_cast<uint8_t>(sequence[i]); };
  switch (sequence.size()) {
    case 1:
      return byte(0);
    case 2:
      return (byte(0) & 0x1Fu) << 6 | (byte(1) & 0x3Fu);
    case 3:
      return (byte(0) & 0x0Fu) << 12 | (byte(1) & 0x3Fu) << 6 | (byte(2) & 0x3Fu);
    default:
      return (byte(0) & 0x07u) << 18 | (byte(1) & 0x3Fu) << 12 | (byte(2) & 0x3Fu) << 6 |
             (byte(3) & 0x3Fu);
  }
}

bool IsFormatControl(uint32_t code_point) {
  return (code_point >= 0x80 && code_point <= 0x9F) || code_point == 0x2028 ||
         code_point == 0x2029 || (code_point >= 0x202A && code_point <= 0x202E) ||
         (code_point >= 0x2066 && code_point <= 0x2069);
}

}  // namespace

std::string EscapeForTerminal(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const size_t length = SequenceLength(text);
    if (length == 0) {
      absl::StrAppendFormat(&out, "\\x%02x", static_cast<uint8_t>(text[0]));
      text.remove_prefix(1);
      continue;
    }
    const std::string_view sequence = text.substr(0, length);
    const uint32_t code_point = CodePoint(sequence);
    if (code_point == '\n') {
      out.append("\\n");
    } else if (code_point == '\r') {
      out.append("\\r");
    } else if (code_point == '\t') {
      out.append("\\t");
    } else if (code_point < 0x20 || code_point == 0x7F) {
      absl::StrAppendFormat(&out, "\\x%02x", code_point);
    } else if (IsFormatControl(code_point)) {
      absl::StrAppendFormat(&out, "\\u%04x", code_point);
    } else {
      out.append(sequence);
    }
    text.remove_prefix(length);
  }
  return out;
}

size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (const char c : text) {
    if ((static_cast<uint8_t>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

}  // namespace fleet::cli
