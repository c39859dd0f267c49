// Label selectors for `fleetctl get agents --selector`: comma-separated terms "key=value" and
// "key!=value", all of which must hold (a missing label never equals a value).
#ifndef FLEETD_SERVER_MODEL_LABEL_SELECTOR_H_
#define FLEETD_SERVER_MODEL_LABEL_SELECTOR_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/map.h"

namespace fleet::server {

class LabelSelector {
 public:
  // INVALID_ARGUMENT naming the bad term. An empty selector matches everything.
  static absl::StatusOr<LabelSelector> Parse(std::string_view text);

  bool Matches(const google::protobuf::Map<std::string, std::string>& labels) const;

 private:
  struct Term {
    std::string key;
    std::string value;
    bool equal = true;
  };
  std::vector<Term> terms_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_MODEL_LABEL_SELECTOR_H_
