#include "cli/target_flags.h"

#include "absl/strings/str_cat.h"
#include "cli/selector_flag.h"

namespace fleet::cli {

void AddTargetFlags(CLI::App* command, TargetFlags* flags) {
  command
      ->add_option("--agent", flags->agents,
                   absl::StrCat("Target this agent (an id from fleetctl get agents). Repeatable, "
                                "or comma-separated: --agent ID1,ID2."))
      ->type_name("ID")
      ->delimiter(',')
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  AddSelectorOption(command, &flags->selectors, "Target the agents");
  command->add_option("--policy", flags->policy, "Target the agents assigned to this policy.")
      ->type_name("NAME");
}

void CheckTargetFlags(const TargetFlags& flags, const std::string& what) {
  if (flags.agents.empty() && flags.selectors.empty() && flags.policy.empty()) {
    throw CLI::ValidationError(absl::StrCat(
        "name the targets of ", what,
        ": --agent ID (repeatable), -l SELECTOR or --policy NAME (together: an agent must match "
        "every one)"));
  }
}

v1::Targets TargetsOf(const TargetFlags& flags) {
  v1::Targets targets;
  for (const std::string& id : flags.agents) targets.add_agent_ids(id);
  targets.set_selector(JoinSelectors(flags.selectors));
  targets.set_policy(flags.policy);
  return targets;
}

}  // namespace fleet::cli
