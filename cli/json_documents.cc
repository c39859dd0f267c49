#include "cli/json_documents.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace fleet::cli {
namespace {

using Json = nlohmann::json;

// 1-based line of the byte at 0-based `offset` of `text`.
size_t LineOfOffset(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + std::count(text.begin(), text.begin() + offset, '\n');
}

// An nlohmann::json SAX handler that builds the documents as json_sax_dom_parser does, checking
// each event first. nlohmann's SAX events carry no position: the line comes from how far the
// parser has read `stream_` (one character past a number, which is why the character before the
// read position is not counted).
class DocumentBuilder {
 public:
  DocumentBuilder(std::string_view text, std::istringstream& stream)
      : text_(text), stream_(stream) {}

  bool null() { return Add(nullptr); }
  bool boolean(bool value) { return Add(value); }
  bool number_integer(Json::number_integer_t value) {
    if (value > kMaxExactInteger || value < -kMaxExactInteger) {
      return Fail(ErrorAt(Line(), Path(), InexactInteger(absl::StrCat(value))));
    }
    return Add(value);
  }
  bool number_unsigned(Json::number_unsigned_t value) {
    if (value > static_cast<uint64_t>(kMaxExactInteger)) {
      return Fail(ErrorAt(Line(), Path(), InexactInteger(absl::StrCat(value))));
    }
    return Add(value);
  }
  bool number_float(Json::number_float_t value, const std::string& text) {
    // An integer too big even for 64 bits arrives here, as a rounded double.
    if (text.find_first_of(".eE") == std::string::npos) {
      return Fail(ErrorAt(Line(), Path(), InexactInteger(text)));
    }
    if (!std::isfinite(value)) return Fail(ErrorAt(Line(), Path(), OutsideDoubleRange(text)));
    if (IsInexactDouble(value)) return Fail(ErrorAt(Line(), Path(), InexactInteger(text)));
    return Add(value);
  }
  bool string(std::string& value) { return Add(std::move(value)); }
  bool binary(Json::binary_t&) {
    return Fail(ErrorAt(Line(), Path(), "binary values are not JSON"));
  }
  bool start_object(std::size_t) { return Open(Json::value_t::object); }
  bool key(std::string& name) {
    Json& object = *open_.back().value;
    if (object.contains(name)) {
      open_.back().key = name;
      return Fail(ErrorAt(Line(), Path(), "given twice in one object (duplicate member name)"));
    }
    open_.back().key = name;
    member_ = &object[name];
    return true;
  }
  bool end_object() { return Close(); }
  bool start_array(std::size_t) { return Open(Json::value_t::array); }
  bool end_array() { return Close(); }
  bool parse_error(std::size_t position, const std::string& last_token,
                   const nlohmann::detail::exception& error) {
    const size_t line = LineOfOffset(text_, position > 0 ? position - 1 : 0);
    // 406: a number too big for a double ("1e400"); the parser reports it as an error.
    if (error.id == 406) return Fail(ErrorAt(line, Path(), OutsideDoubleRange(last_token)));
    // nlohmann's message: "[json.exception.parse_error.101] parse error at line L, column C: why;
    // last read: '...'". Keep "why"; quote what was read, as it may hold anything.
    std::string why = error.what();
    if (const size_t colon = why.find(": ", why.find("column")); colon != std::string::npos) {
      why = why.substr(colon + 2);
    }
    if (const size_t last = why.find("; last read:"); last != std::string::npos) {
      why = absl::StrCat(why.substr(0, last), "; last read: ", QuoteForError(last_token));
    }
    return Fail(absl::InvalidArgumentError(absl::StrCat(line, ": malformed JSON: ", why)));
  }

  // After sax_parse returned false: the first problem.
  const absl::Status& error() const { return error_; }

  // The documents read, once sax_parse returned true.
  std::vector<SourceDocument> TakeDocuments() {
    if (top_is_array_) {
      for (size_t i = 0; i < root_.size(); ++i) {
        documents_[i].value = std::move(root_[i]);
      }
      return std::move(documents_);
    }
    return {SourceDocument{.value = std::move(root_), .line = root_line_}};
  }

 private:
  struct Level {
    Json* value;      // not owned: inside root_
    std::string key;  // objects: the member being read
  };

  // The line of what the parser read last.
  size_t Line() const {
    const auto read = static_cast<std::streamoff>(
        stream_.rdbuf()->pubseekoff(0, std::ios_base::cur, std::ios_base::in));
    return LineOfOffset(text_, read > 0 ? static_cast<size_t>(read) - 1 : 0);
  }

  // Open levels above the document: the top-level array, when there is one.
  size_t Base() const { return top_is_array_ ? 1 : 0; }

  // The path of the value being read, from its document's root.
  std::vector<std::string> Path() const {
    std::vector<std::string> path;
    for (size_t i = Base(); i < open_.size(); ++i) {
      const Json& value = *open_[i].value;
      if (value.is_object()) {
        path.push_back(open_[i].key);
      } else {
        // An array's element being read: the next one, or the last one for a deeper level.
        path.push_back(IndexSegment(value.size() - (i + 1 < open_.size() ? 1 : 0)));
      }
    }
    return path;
  }

  bool Fail(absl::Status status) {
    if (error_.ok()) error_ = std::move(status);
    return false;
  }

  // Places `value` where the parser is and returns it.
  template <typename T>
  Json* Place(T&& value) {
    if (open_.empty()) {
      root_line_ = Line();
      root_ = Json(std::forward<T>(value));
      return &root_;
    }
    Json& container = *open_.back().value;
    if (container.is_array()) {
      if (top_is_array_ && open_.size() == 1) documents_.emplace_back().line = Line();
      container.emplace_back(std::forward<T>(value));
      return &container.back();
    }
    *member_ = Json(std::forward<T>(value));
    return member_;
  }

  template <typename T>
  bool Add(T&& value) {
    Place(std::forward<T>(value));
    return true;
  }

  bool Open(Json::value_t type) {
    if (open_.empty() && type == Json::value_t::array) top_is_array_ = true;
    if (open_.size() + 1 > Base() + kMaxDocumentDepth)
      return Fail(ErrorAt(Line(), Path(), TooDeep()));
    open_.push_back(Level{.value = Place(type), .key = ""});
    return true;
  }

  bool Close() {
    open_.pop_back();
    return true;
  }

  const std::string_view text_;
  std::istringstream& stream_;
  Json root_;
  size_t root_line_ = 1;
  bool top_is_array_ = false;
  std::vector<Level> open_;
  Json* member_ = nullptr;                 // not owned: the object member key() named, inside root_
  std::vector<SourceDocument> documents_;  // with a top-level array: each element's line
  absl::Status error_;
};

}  // namespace

absl::StatusOr<std::vector<SourceDocument>> ReadJsonDocuments(std::string_view text) {
  std::istringstream stream{std::string(text)};
  DocumentBuilder builder(text, stream);
  bool ok = false;
  try {
    ok = Json::sax_parse(stream, &builder);
  } catch (const std::exception& e) {
    // The builder never throws on input; this is memory or a library surprise.
    return absl::InvalidArgumentError(absl::StrCat("1: cannot read JSON: ", e.what()));
  }
  if (!ok) {
    if (!builder.error().ok()) return builder.error();
    return absl::InvalidArgumentError("1: malformed JSON");
  }
  return builder.TakeDocuments();
}

}  // namespace fleet::cli
