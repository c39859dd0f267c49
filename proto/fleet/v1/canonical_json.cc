#include "fleet/v1/canonical_json.h"

#include <openssl/sha.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace fleet::v1 {
namespace {

using nlohmann::json;

// I-JSON's safe integers: every integer of at most this magnitude is exactly one double.
constexpr double kMaxSafeInteger = 9007199254740991.0;  // 2^53 - 1
// From here on ECMAScript writes numbers with an exponent.
constexpr double kExponentFrom = 1e21;
// The longest path an error message names; a longer one keeps its end.
constexpr size_t kMaxPathBytes = 256;
// How much of the input before the offending byte a syntax error quotes.
constexpr size_t kContextBytes = 32;

enum class NumberRule {
  kIJson,   // refuse what a double cannot hold exactly
  kStored,  // any finite number, as fleetd stored them before RFC 8785
};

bool IsIdentifier(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

// A number token as the input wrote it, for an error message: digits, sign, point and exponent
// only (the lexer checked), so printable as it is; cut at 64 bytes.
std::string QuoteNumber(std::string_view token) {
  if (token.size() <= 64) return std::string(token);
  return absl::StrCat(std::string(token.substr(0, 64)), "...");
}

// Builds the json value from nlohmann's SAX events (the parser itself is iterative, so no input
// can exhaust the stack), refusing what I-JSON refuses, and knows the JSON path of each event
// for the error message.
class IJsonBuilder {
 public:
  IJsonBuilder(std::string_view text, std::string_view field, NumberRule numbers)
      : text_(text), field_(field), numbers_(numbers) {}

  bool null() { return AddValue(json(nullptr)); }
  bool boolean(bool value) { return AddValue(json(value)); }

  bool number_integer(json::number_integer_t value) {
    if (numbers_ == NumberRule::kIJson && std::abs(static_cast<double>(value)) > kMaxSafeInteger) {
      return Inexact(absl::StrCat(value));
    }
    return AddValue(json(value));
  }

  bool number_unsigned(json::number_unsigned_t value) {
    if (numbers_ == NumberRule::kIJson && static_cast<double>(value) > kMaxSafeInteger) {
      return Inexact(absl::StrCat(value));
    }
    return AddValue(json(value));
  }

  bool number_float(json::number_float_t value, const std::string& token) {
    if (numbers_ == NumberRule::kIJson) {
      // An integer token too big for int64 and uint64 comes here too.
      const bool integer_token = token.find_first_of(".eE") == std::string::npos;
      if (integer_token) return Inexact(token);
      const double magnitude = std::abs(value);
      if (magnitude > kMaxSafeInteger && magnitude < kExponentFrom) {
        // Its canonical form is an integer token a receiver cannot take as exact.
        return Fail(absl::StrCat(PathForValue(), ": ", QuoteNumber(token),
                                 " is an integer beyond +-(2^53-1), which cannot be represented "
                                 "exactly; quote it as a string"));
      }
    }
    return AddValue(json(value));
  }

  bool string(std::string& value) { return AddValue(json(std::move(value))); }

  bool binary(json::binary_t&) { return Fail(absl::StrCat(PathForValue(), ": binary value")); }

  bool start_object(size_t) { return StartContainer(json::object()); }
  bool start_array(size_t) { return StartContainer(json::array()); }

  bool key(std::string& name) {
    Frame& frame = frames_.back();
    const bool duplicate = frame.value->contains(name);
    frame.key = std::move(name);
    frame.has_key = true;
    if (duplicate) return Fail(absl::StrCat(PathForValue(), ": duplicate member name"));
    return true;
  }

  bool end_object() { return EndContainer(); }
  bool end_array() { return EndContainer(); }

  bool parse_error(size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& error) {
    if (error.id == 406) {  // out_of_range: the number does not fit a double
      return Fail(absl::StrCat(PathForValue(), ": ", QuoteNumber(last_token),
                               " is outside the range of an IEEE 754 double"));
    }
    // nlohmann's message names the line and column; drop its id and the token it read, which is
    // input of any length and encoding: a bounded quote of the input stands for it.
    std::string reason = error.what();
    if (size_t bracket = reason.find("] "); bracket != std::string::npos) {
      reason.erase(0, bracket + 2);
    }
    const std::string last_read = absl::StrCat("; last read: '", last_token, "'");
    if (size_t at = reason.find(last_read); at != std::string::npos) {
      reason.erase(at, last_read.size());
    }
    const size_t end = std::min(position, text_.size());
    const size_t begin = end > kContextBytes ? end - kContextBytes : 0;
    return Fail(absl::StrCat(PathForValue(), ": not valid JSON: ", SanitizeUtf8(reason, 512),
                             "; near ", QuoteForError(text_.substr(begin, end - begin))));
  }

  absl::StatusOr<json> Take(bool parsed) && {
    if (!status_.ok()) return status_;
    if (!parsed) return absl::InvalidArgumentError(absl::StrCat(field_, " is not valid JSON"));
    return std::move(root_);
  }

 private:
  struct Frame {
    json* value;      // not owned: inside root_, stable while it is being filled
    std::string key;  // an object's current member
    bool has_key = false;
    size_t index = 0;  // an array's current element
  };

  bool AddValue(json value) {
    if (frames_.empty()) {
      return Fail(
          absl::StrCat(field_, " must be a JSON object, not ", std::string(value.type_name())));
    }
    Frame& frame = frames_.back();
    if (frame.value->is_array()) {
      frame.value->push_back(std::move(value));
      ++frame.index;
    } else {
      (*frame.value)[frame.key] = std::move(value);
      frame.has_key = false;
    }
    return true;
  }

  // The element or member a container fills stays the parent's current one until it ends, so
  // that the path names it.
  bool StartContainer(json value) {
    if (frames_.empty()) {
      if (!value.is_object()) {
        return Fail(absl::StrCat(field_, " must be a JSON object, not array"));
      }
      root_ = std::move(value);
      frames_.push_back(Frame{.value = &root_});
      return true;
    }
    if (frames_.size() >= static_cast<size_t>(kMaxSpecDepth)) {
      return Fail(absl::StrCat(PathForValue(), ": nests objects and arrays more than ",
                               kMaxSpecDepth, " levels deep"));
    }
    json& parent = *frames_.back().value;
    json* child = nullptr;
    if (parent.is_array()) {
      parent.push_back(std::move(value));
      child = &parent.back();
    } else {
      child = &(parent[frames_.back().key] = std::move(value));
    }
    frames_.push_back(Frame{.value = child});
    return true;
  }

  bool EndContainer() {
    frames_.pop_back();
    if (frames_.empty()) return true;
    Frame& parent = frames_.back();
    if (parent.value->is_array()) {
      ++parent.index;
    } else {
      parent.has_key = false;
    }
    return true;
  }

  // The path of the value being read (or of the member whose name is being read).
  std::string PathForValue() const {
    std::string path;
    for (const Frame& frame : frames_) {
      if (frame.value->is_array()) {
        absl::StrAppend(&path, "[", frame.index, "]");
      } else if (frame.has_key) {
        if (IsIdentifier(frame.key)) {
          absl::StrAppend(&path, ".", frame.key);
        } else {
          absl::StrAppend(&path, "[", QuoteForError(frame.key), "]");
        }
      }
    }
    if (path.size() > kMaxPathBytes) {
      size_t cut = path.size() - kMaxPathBytes;
      // QuoteForError's output is printable ASCII or whole UTF-8 characters: step to one.
      while (cut < path.size() && (static_cast<unsigned char>(path[cut]) & 0xC0) == 0x80) ++cut;
      path = absl::StrCat("...", path.substr(cut));
    }
    return absl::StrCat(field_, path);
  }

  bool Inexact(std::string_view token) {
    return Fail(absl::StrCat(PathForValue(), ": ", QuoteNumber(token),
                             " cannot be represented exactly; quote it as a string"));
  }

  bool Fail(std::string message) {
    status_ = absl::InvalidArgumentError(std::move(message));
    return false;
  }

  const std::string_view text_;
  const std::string field_;
  const NumberRule numbers_;
  json root_;
  std::vector<Frame> frames_;  // the open containers, outermost first
  absl::Status status_;
};

absl::StatusOr<json> Parse(std::string_view text, std::string_view field, NumberRule numbers) {
  IJsonBuilder builder(text, field, numbers);
  const bool parsed = json::sax_parse(text, &builder, json::input_format_t::json, /*strict=*/true,
                                      /*ignore_comments=*/false);
  return std::move(builder).Take(parsed);
}

// The code point starting at `s[i]`, and its length; U+FFFD and 1 byte for an ill-formed one.
std::pair<uint32_t, size_t> DecodeAt(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char lead = byte(i);
  size_t length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
  if (length == 0 || i + length > s.size()) return {0xFFFD, 1};
  uint32_t cp = length == 1 ? lead : lead & (0x7F >> length);
  for (size_t k = 1; k < length; ++k) cp = (cp << 6) | (byte(i + k) & 0x3F);
  return {cp, length};
}

// The first UTF-16 code unit of `cp`.
uint32_t FirstUtf16Unit(uint32_t cp) {
  return cp >= 0x10000 ? 0xD800 + ((cp - 0x10000) >> 10) : cp;
}

// RFC 8785 section 3.2.3: member names in the order of their UTF-16 code units. UTF-8's byte
// order is code point order, which differs only where a character above U+FFFF (a surrogate
// pair in UTF-16, D800 to DFFF) meets one of U+E000 to U+FFFF.
bool Utf16Less(std::string_view a, std::string_view b) {
  const size_t common = std::min(a.size(), b.size());
  const size_t differ = std::mismatch(a.begin(), a.begin() + common, b.begin()).first - a.begin();
  if (differ == common) return a.size() < b.size();
  size_t i = differ;
  while (i > 0 && (static_cast<unsigned char>(a[i]) & 0xC0) == 0x80) --i;  // to the character
  const uint32_t ca = DecodeAt(a, i).first;
  const uint32_t cb = DecodeAt(b, i).first;
  const uint32_t ua = FirstUtf16Unit(ca);
  const uint32_t ub = FirstUtf16Unit(cb);
  if (ua != ub) return ua < ub;
  // Both above U+FFFF with the same high surrogate: the low one decides. Equal only for
  // ill-formed bytes (no parsed name has them): then the bytes, so the order stays strict.
  if (ca != cb) return ca < cb;
  return static_cast<unsigned char>(a[differ]) < static_cast<unsigned char>(b[differ]);
}

void WriteString(std::string_view s, std::string& out) {
  std::string sanitized;
  if (!IsValidUtf8(s)) {
    sanitized = SanitizeUtf8(s, s.size() * 3);
    s = sanitized;
  }
  out.push_back('"');
  for (char c : s) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (byte < 0x20) {
          constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[byte >> 4]);
          out.push_back(kHex[byte & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// ECMAScript's Number::toString(x) for a finite double (ECMA-262, 6.1.6.1.20), from the shortest
// round-tripping digits std::to_chars finds.
void WriteNumber(double value, std::string& out) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  if (value == 0) {  // -0 too
    out.push_back('0');
    return;
  }
  if (value < 0) {
    out.push_back('-');
    value = -value;
  }
  char buffer[64];
  const std::to_chars_result result =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  const std::string_view scientific(buffer, result.ptr - buffer);  // d[.ddd]e(+|-)xx
  const size_t e = scientific.find('e');
  std::string digits(1, scientific[0]);
  if (e > 1) digits.append(scientific.substr(2, e - 2));
  int exponent = 0;
  const std::string_view exponent_text = scientific.substr(e + 1);
  std::from_chars(exponent_text.data() + (exponent_text[0] == '+' ? 1 : 0),
                  exponent_text.data() + exponent_text.size(), exponent);
  // ECMAScript's k (digit count) and n: the value is 0.digits times 10^n.
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(n - k, '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, n);
    out.push_back('.');
    out.append(digits, n);
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(-n, '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(n - 1 < 0 ? '-' : '+');
    absl::StrAppend(&out, std::abs(n - 1));
  }
}

void Write(const json& value, std::string& out) {
  switch (value.type()) {
    case json::value_t::null:
    case json::value_t::discarded:
    case json::value_t::binary:
      out += "null";
      return;
    case json::value_t::boolean:
      out += value.get<bool>() ? "true" : "false";
      return;
    case json::value_t::number_integer:
      WriteNumber(static_cast<double>(value.get<json::number_integer_t>()), out);
      return;
    case json::value_t::number_unsigned:
      WriteNumber(static_cast<double>(value.get<json::number_unsigned_t>()), out);
      return;
    case json::value_t::number_float:
      WriteNumber(value.get<json::number_float_t>(), out);
      return;
    case json::value_t::string:
      WriteString(value.get_ref<const std::string&>(), out);
      return;
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const json& element : value) {
        if (!first) out.push_back(',');
        first = false;
        Write(element, out);
      }
      out.push_back(']');
      return;
    }
    case json::value_t::object: {
      const json::object_t& members = value.get_ref<const json::object_t&>();
      std::vector<const json::object_t::value_type*> sorted;
      sorted.reserve(members.size());
      for (const auto& member : members) sorted.push_back(&member);
      // std::map holds them in byte order, which is already UTF-16 order unless a name has a
      // character above U+FFFF: a stable sort of a nearly sorted range is cheap.
      std::stable_sort(sorted.begin(), sorted.end(),
                       [](const auto* a, const auto* b) { return Utf16Less(a->first, b->first); });
      out.push_back('{');
      bool first = true;
      for (const auto* member : sorted) {
        if (!first) out.push_back(',');
        first = false;
        WriteString(member->first, out);
        out.push_back(':');
        Write(member->second, out);
      }
      out.push_back('}');
      return;
    }
  }
}

}  // namespace

absl::StatusOr<json> ParseJsonObject(std::string_view text, std::string_view field) {
  if (text.size() > kMaxSpecBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(std::string(field), " is ", text.size(),
                                                     " bytes; the limit is ", kMaxSpecBytes));
  }
  return Parse(text, field, NumberRule::kIJson);
}

absl::StatusOr<json> ParseStoredJsonObject(std::string_view text, std::string_view field) {
  return Parse(text, field, NumberRule::kStored);
}

std::string CanonicalJson(const json& value) {
  std::string out;
  Write(value, out);
  return out;
}

absl::StatusOr<CanonicalSpec> ParseCanonicalSpec(std::string_view text, std::string_view field) {
  absl::StatusOr<json> value = ParseJsonObject(text, field);
  if (!value.ok()) return value.status();
  std::string canonical = CanonicalJson(*value);
  if (canonical.size() > kMaxSpecBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(std::string(field), " is ", text.size(), " bytes, but ", canonical.size(),
                     " bytes in canonical form (RFC 8785); the limit is ", kMaxSpecBytes));
  }
  return CanonicalSpec{.value = *std::move(value), .canonical = std::move(canonical)};
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), sizeof(digest)));
}

}  // namespace fleet::v1
