#include "cli/flag_values.h"

#include <cstdint>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace fleet::cli {
namespace {

CLI::Validator WholeNumberFrom(int64_t min, std::string below_min) {
  return CLI::Validator(
      [min, below_min](std::string& input) -> std::string {
        int64_t value = 0;
        if (!absl::SimpleAtoi(input, &value)) {
          return absl::StrCat("\"", input, "\": want a whole number from ", min);
        }
        if (value < min) return absl::StrCat("\"", input, "\": ", below_min);
        return "";
      },
      "");
}

}  // namespace

std::string AlternativesText(const std::vector<std::string>& names) {
  if (names.size() < 2) return absl::StrJoin(names, "");
  return absl::StrCat(absl::StrJoin(std::vector<std::string>(names.begin(), names.end() - 1), ", "),
                      " or ", names.back());
}

CLI::Validator RevisionNumber() { return WholeNumberFrom(1, "revisions start at 1"); }

CLI::Validator Count() { return WholeNumberFrom(0, "want 0 or more"); }

CLI::Validator PositiveCount() { return WholeNumberFrom(1, "want 1 or more"); }

}  // namespace fleet::cli
