// Checks for flag values that speak the operator's words: an enum flag takes its values' names
// only (never their numbers), a revision starts at 1, a count at 0. A value they refuse is a
// usage error that usage_errors.h prints as `invalid --role "x": want admin, operator or viewer`.
#ifndef FLEETD_CLI_FLAG_VALUES_H_
#define FLEETD_CLI_FLAG_VALUES_H_

#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_join.h"

namespace fleet::cli {

// "a, b or c".
std::string AlternativesText(const std::vector<std::string>& names);

// Makes `option` take one of the names of `values` (any case), which it sets the flag's variable
// to; its help shows them as "a|b|c". Returns `option`.
template <typename T>
CLI::Option* NamedValues(CLI::Option* option, const std::map<std::string, T>& values) {
  std::vector<std::string> names;
  for (const auto& [name, value] : values) names.push_back(name);
  const std::string want = AlternativesText(names);
  option
      ->transform(CLI::Validator(
          [values, want](std::string& input) -> std::string {
            const auto found = values.find(absl::AsciiStrToLower(input));
            if (found == values.end()) return "\"" + input + "\": want " + want;
            // CLI11 reads an enum from its number.
            input = std::to_string(static_cast<long long>(found->second));
            return "";
          },
          ""))
      ->type_name(absl::StrJoin(names, "|"));
  return option;
}

// A revision number: a whole number from 1.
CLI::Validator RevisionNumber();

// A count: a whole number from 0.
CLI::Validator Count();

// A count that must be at least 1, e.g. --limit.
CLI::Validator PositiveCount();

}  // namespace fleet::cli

#endif  // FLEETD_CLI_FLAG_VALUES_H_
