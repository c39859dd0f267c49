#include "cli/selector_flag.h"

#include "absl/strings/str_join.h"

namespace fleet::cli {

CLI::Option* AddSelectorOption(CLI::App* command, std::vector<std::string>* selectors,
                               const std::string& what) {
  return command
      ->add_option("--selector,-l", *selectors,
                   what +
                       " whose labels match a Kubernetes label selector: comma-separated "
                       "requirements, all of which must hold: key=value (or ==), key!=value, "
                       "'key in (a,b)', 'key notin (a,b)', key (has the label), '!key' (has not); "
                       "keys may have a DNS prefix (example.com/team). Repeatable. Example: -l "
                       "'env in (prod,staging),!canary'")
      ->type_name("SELECTOR")
      // One selector per -l, so that the positional arguments after it stay positional.
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
}

std::string JoinSelectors(const std::vector<std::string>& selectors) {
  return absl::StrJoin(selectors, ",");
}

}  // namespace fleet::cli
