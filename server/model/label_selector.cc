#include "server/model/label_selector.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/utf8.h"
#include "server/model/validation.h"

namespace fleet::server {

absl::StatusOr<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector selector;
  if (text.empty()) return selector;
  for (absl::string_view raw : absl::StrSplit(absl::string_view(text.data(), text.size()), ',')) {
    std::string term(raw);
    Term parsed;
    size_t not_equal = term.find("!=");
    size_t equal = term.find('=');
    if (not_equal != std::string::npos) {
      parsed.key = term.substr(0, not_equal);
      parsed.value = term.substr(not_equal + 2);
      parsed.equal = false;
    } else if (equal != std::string::npos) {
      parsed.key = term.substr(0, equal);
      parsed.value = term.substr(equal + 1);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("selector term ", QuoteForError(term), " must be key=value or key!=value"));
    }
    if (absl::Status s = ValidateLabelKey("selector key", parsed.key); !s.ok()) return s;
    if (absl::Status s = ValidateLabelValue("selector value", parsed.value); !s.ok()) return s;
    selector.terms_.push_back(std::move(parsed));
  }
  return selector;
}

bool LabelSelector::Matches(const google::protobuf::Map<std::string, std::string>& labels) const {
  for (const Term& term : terms_) {
    auto it = labels.find(term.key);
    bool equals = it != labels.end() && it->second == term.value;
    if (equals != term.equal) return false;
  }
  return true;
}

}  // namespace fleet::server
