#include "cli/document_source.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace fleet::cli {

std::string PathText(const std::vector<std::string>& path) {
  if (path.empty()) return "the document";
  std::string text;
  for (const std::string& segment : path) {
    if (!text.empty() && segment.front() != '[') text.push_back('.');
    if (text.size() + segment.size() > 64) {
      text.append("...");  // a deep path: its start says where it is
      break;
    }
    text.append(segment);
  }
  // A key may hold anything; show it escaped when it is more than a plain name.
  const bool plain =
      IsValidUtf8(text) && std::none_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7F || c == '"' || c == '\\';
      });
  return plain ? text : QuoteForError(text);
}

std::string IndexSegment(size_t index) { return absl::StrCat("[", index, "]"); }

absl::Status ErrorAt(size_t line, const std::vector<std::string>& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(line, ": ", PathText(path), ": ", what));
}

bool IsInexactDouble(double value) {
  // ECMAScript's Number.prototype.toString, which RFC 8785 follows, writes 1e21 and up with an
  // exponent.
  constexpr double kExponentFrom = 1e21;
  const double magnitude = std::abs(value);
  return magnitude > static_cast<double>(kMaxExactInteger) && magnitude < kExponentFrom;
}

std::string InexactInteger(absl::string_view text) {
  return absl::StrCat(text.substr(0, 64), " cannot be represented exactly; quote it as a string");
}

std::string OutsideDoubleRange(absl::string_view text) {
  return absl::StrCat(text.substr(0, 64),
                      " is outside the range of a double; quote it as a string");
}

std::string TooDeep() {
  return absl::StrCat("nests objects and arrays more than ", v1::kMaxSpecDepth,
                      " levels deep (fleetd's limit for a spec)");
}

}  // namespace fleet::cli
