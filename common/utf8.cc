#include "common/utf8.h"

#include <cstdint>

namespace fleet {
namespace {

// The length of the well-formed UTF-8 sequence at the start of `text`, or 0 when it does not
// start with one.
size_t SequenceLength(std::string_view text) {
  const auto byte = [&text](size_t i) { return static_cast<uint8_t>(text[i]); };
  const auto continuation = [&](size_t i) { return i < text.size() && (byte(i) & 0xC0) == 0x80; };
  const uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return continuation(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (lead == 0xE0 && byte(1) < 0xA0) return 0;   // overlong
    if (lead == 0xED && byte(1) >= 0xA0) return 0;  // a surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (lead == 0xF0 && byte(1) < 0x90) return 0;   // overlong
    if (lead == 0xF4 && byte(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  while (!text.empty()) {
    const size_t length = SequenceLength(text);
    if (length == 0) return false;
    text.remove_prefix(length);
  }
  return true;
}

std::string_view TruncateUtf8(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  while (cut > 0 && (static_cast<uint8_t>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

std::string SanitizeUtf8(std::string_view text, size_t max_bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  while (!text.empty() && out.size() < max_bytes) {
    const size_t length = SequenceLength(text);
    const std::string_view piece = length == 0 ? kReplacement : text.substr(0, length);
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece);
    text.remove_prefix(length == 0 ? 1 : length);
  }
  return out;
}

std::string QuoteForError(std::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string_view shown = TruncateUtf8(text, max_bytes);
  std::string out = "\"";
  std::string_view rest = shown;
  while (!rest.empty()) {
    const size_t length = SequenceLength(rest);
    const auto byte = static_cast<uint8_t>(rest[0]);
    if (length == 1 && byte >= 0x20 && byte != 0x7F && byte != '"' && byte != '\\') {
      out.push_back(rest[0]);
    } else if (length > 1) {
      out.append(rest.substr(0, length));
    } else if (byte == '"' || byte == '\\') {
      out.push_back('\\');
      out.push_back(rest[0]);
    } else if (byte == '\n') {
      out.append("\\n");
    } else if (byte == '\t') {
      out.append("\\t");
    } else if (byte == '\r') {
      out.append("\\r");
    } else {
      out.append("\\x");
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0xF]);
    }
    rest.remove_prefix(length == 0 ? 1 : length);
  }
  out.push_back('"');
  if (shown.size() < text.size()) out.append("...");
  return out;
}

}  // namespace fleet
