// Label selectors, as Kubernetes writes them: comma-separated requirements, all of which must
// hold:
//   key=value, key==value   the label is set to value
//   key!=value              the label is not set to value (or not set at all)
//   key in (v1,v2)          the label is set to one of the values
//   key notin (v1,v2)       the label is not set to any of the values (or not set at all)
//   key                     the label is set, to any value
//   !key                    the label is not set
// Keys and values follow ValidateLabelKey and ValidateLabelValue (validation.h), so a key may
// carry a DNS prefix (example.com/team) and a value may be empty. White space around keys,
// operators and values is ignored.
#ifndef FLEETD_SERVER_MODEL_LABEL_SELECTOR_H_
#define FLEETD_SERVER_MODEL_LABEL_SELECTOR_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/map.h"

namespace fleet::server {

// Immutable once parsed; thread-compatible.
class LabelSelector {
 public:
  // The selector `text` says. INVALID_ARGUMENT, its message starting "selector", quoting the bad
  // requirement and naming the 1-based column (of `text`) where it goes wrong and what was
  // expected there. An empty (or all white space) selector matches everything.
  static absl::StatusOr<LabelSelector> Parse(std::string_view text);

  bool Matches(const google::protobuf::Map<std::string, std::string>& labels) const;

 private:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kNotExists };
  struct Term {
    std::string key;
    Op op = Op::kEquals;
    std::vector<std::string> values;  // one for kEquals and kNotEquals, none for kExists
  };
  class Parser;

  std::vector<Term> terms_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_MODEL_LABEL_SELECTOR_H_
