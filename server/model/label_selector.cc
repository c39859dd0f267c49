#include "server/model/label_selector.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/utf8.h"
#include "server/model/validation.h"

namespace fleet::server {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// Characters that end a key or a value: they are the grammar's own.
bool IsSpecial(char c) {
  return IsSpace(c) || c == ',' || c == '(' || c == ')' || c == '!' || c == '=';
}

}  // namespace

// A recursive-descent parser over one selector text; `pos_` only moves forward, so every loop
// ends.
class LabelSelector::Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  absl::StatusOr<LabelSelector> Run() {
    LabelSelector selector;
    SkipSpace();
    if (AtEnd()) return selector;
    while (true) {
      absl::StatusOr<Term> term = ParseTerm();
      if (!term.ok()) return term.status();
      selector.terms_.push_back(*std::move(term));
      if (AtEnd()) return selector;
      ++pos_;  // the ',' ParseTerm stopped at
    }
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  void SkipSpace() {
    while (!AtEnd() && IsSpace(text_[pos_])) ++pos_;
  }
  // The longest run of characters that are not the grammar's, from `pos_`; may be empty.
  std::string_view Word() {
    const size_t start = pos_;
    while (!AtEnd() && !IsSpecial(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // INVALID_ARGUMENT quoting the requirement being parsed (up to its ',' outside parentheses)
  // and naming the 1-based column `at`.
  absl::Status Error(size_t at, std::string_view what) const {
    size_t end = term_start_;
    for (int depth = 0; end < text_.size(); ++end) {
      if (text_[end] == '(') ++depth;
      if (text_[end] == ')') depth = std::max(0, depth - 1);
      if (text_[end] == ',' && depth == 0) break;
    }
    std::string_view term = text_.substr(term_start_, end - term_start_);
    while (!term.empty() && IsSpace(term.front())) term.remove_prefix(1);
    while (!term.empty() && IsSpace(term.back())) term.remove_suffix(1);
    return absl::InvalidArgumentError(absl::StrCat("selector requirement ", QuoteForError(term),
                                                   " at column ", at + 1, ": ", std::string(what)));
  }

  // What was found at `pos_`, for an error: the character, or "the end".
  std::string Found() const {
    if (AtEnd()) return "the end of the selector";
    return absl::StrCat("\"", std::string(1, Peek()), "\"");
  }

  // After a requirement: OK at a ',' (left for Run) or the end.
  absl::Status ExpectTermEnd() {
    SkipSpace();
    if (AtEnd() || Peek() == ',') return absl::OkStatus();
    return Error(pos_,
                 absl::StrCat("expected \",\" or the end after the requirement, found ", Found()));
  }

  absl::StatusOr<std::string> Key() {
    SkipSpace();
    const size_t at = pos_;
    std::string_view key = Word();
    if (key.empty()) return Error(at, absl::StrCat("expected a label key, found ", Found()));
    if (absl::Status s = ValidateLabelKey("label key", key); !s.ok()) {
      return Error(at, std::string(s.message()));
    }
    return std::string(key);
  }

  absl::StatusOr<std::string> Value() {
    SkipSpace();
    const size_t at = pos_;
    std::string_view value = Word();
    if (absl::Status s = ValidateLabelValue("label value", value); !s.ok()) {
      return Error(at, std::string(s.message()));
    }
    return std::string(value);
  }

  // "(" value {"," value} ")".
  absl::StatusOr<std::vector<std::string>> ValueList(std::string_view op) {
    SkipSpace();
    if (Peek() != '(') {
      return Error(pos_,
                   absl::StrCat("expected \"(\" after \"", std::string(op), "\", found ", Found()));
    }
    ++pos_;
    std::vector<std::string> values;
    while (true) {
      absl::StatusOr<std::string> value = Value();
      if (!value.ok()) return value.status();
      values.push_back(*std::move(value));
      SkipSpace();
      if (Peek() == ')') {
        ++pos_;
        return values;
      }
      if (Peek() != ',') {
        return Error(pos_,
                     absl::StrCat("expected \",\" or \")\" in the value list, found ", Found()));
      }
      ++pos_;
    }
  }

  absl::StatusOr<Term> ParseTerm() {
    SkipSpace();
    term_start_ = pos_;
    Term term;
    if (Peek() == '!') {
      ++pos_;
      absl::StatusOr<std::string> key = Key();
      if (!key.ok()) return key.status();
      term.key = *std::move(key);
      term.op = Op::kNotExists;
      if (absl::Status s = ExpectTermEnd(); !s.ok()) return s;
      return term;
    }
    absl::StatusOr<std::string> key = Key();
    if (!key.ok()) return key.status();
    term.key = *std::move(key);
    SkipSpace();
    const size_t op_at = pos_;
    if (AtEnd() || Peek() == ',') {
      term.op = Op::kExists;
      return term;
    }
    if (Peek() == '=' || Peek() == '!') {
      term.op = Peek() == '=' ? Op::kEquals : Op::kNotEquals;
      ++pos_;
      if (term.op == Op::kNotEquals && Peek() != '=') {
        return Error(op_at, "expected \"!=\"; \"!\" negates only a whole requirement (!key)");
      }
      if (Peek() == '=') ++pos_;
      absl::StatusOr<std::string> value = Value();
      if (!value.ok()) return value.status();
      term.values.push_back(*std::move(value));
      if (absl::Status s = ExpectTermEnd(); !s.ok()) return s;
      return term;
    }
    std::string_view op = Word();
    if (op != "in" && op != "notin") {
      return Error(op_at, absl::StrCat("expected =, ==, !=, in or notin after the key, found ",
                                       op.empty() ? Found() : QuoteForError(op)));
    }
    term.op = op == "in" ? Op::kIn : Op::kNotIn;
    absl::StatusOr<std::vector<std::string>> values = ValueList(op);
    if (!values.ok()) return values.status();
    term.values = *std::move(values);
    if (absl::Status s = ExpectTermEnd(); !s.ok()) return s;
    return term;
  }

  const std::string_view text_;
  size_t pos_ = 0;
  size_t term_start_ = 0;
};

absl::StatusOr<LabelSelector> LabelSelector::Parse(std::string_view text) {
  return Parser(text).Run();
}

bool LabelSelector::Matches(const google::protobuf::Map<std::string, std::string>& labels) const {
  for (const Term& term : terms_) {
    auto it = labels.find(term.key);
    const bool has = it != labels.end();
    const bool in_values =
        has && std::find(term.values.begin(), term.values.end(), it->second) != term.values.end();
    bool holds = false;
    switch (term.op) {
      case Op::kEquals:
      case Op::kIn:
        holds = in_values;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        holds = !in_values;
        break;
      case Op::kExists:
        holds = has;
        break;
      case Op::kNotExists:
        holds = !has;
        break;
    }
    if (!holds) return false;
  }
  return true;
}

}  // namespace fleet::server
