// The shell scripts `fleetctl completion bash|zsh|fish` prints. Each is a thin shim: at every TAB
// it runs `fleetctl __complete -- WORDS... CURRENT` (completion.h) and offers the lines it
// prints, completing file names instead when the only line is ":files". It holds no command or
// flag name, so it never goes stale when commands change.
#ifndef FLEETD_CLI_COMPLETION_SCRIPTS_H_
#define FLEETD_CLI_COMPLETION_SCRIPTS_H_

#include <string_view>

namespace fleet::cli {

// bash 4 and later; defines _fleetctl and registers it with `complete -F`. bash splits
// "--flag=value" at the "=" (COMP_WORDBREAKS); the script and __complete take that into account.
std::string_view BashCompletionScript();
// zsh with compinit; an autoloadable #compdef _fleetctl file, or sourced.
std::string_view ZshCompletionScript();
// fish 3 and later.
std::string_view FishCompletionScript();

}  // namespace fleet::cli

#endif  // FLEETD_CLI_COMPLETION_SCRIPTS_H_
