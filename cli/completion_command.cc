#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"

namespace fleet::cli {
namespace {

// The words that may follow `command`: its subcommands (and their aliases) and its flags.
std::string WordsAfter(const CLI::App& command, const std::vector<std::string>& inherited) {
  std::vector<std::string> words;
  for (const CLI::App* sub : command.get_subcommands([](const CLI::App*) { return true; })) {
    words.push_back(sub->get_name());
    for (const std::string& alias : sub->get_aliases()) words.push_back(alias);
  }
  for (const CLI::Option* option : command.get_options()) {
    for (const std::string& name : option->get_lnames()) words.push_back("--" + name);
    for (const std::string& name : option->get_snames()) words.push_back("-" + name);
  }
  for (const std::string& flag : inherited) {
    if (std::find(words.begin(), words.end(), flag) == words.end()) words.push_back(flag);
  }
  return absl::StrJoin(words, " ");
}

// Appends a `["PATH"]="WORDS"` line for `command` and each command below it, once per name or
// alias by which it can be reached.
void AddEntries(const CLI::App& command, const std::string& path,
                const std::vector<std::string>& global_flags, std::string& entries) {
  absl::StrAppend(&entries, "    [\"", path, "\"]=\"", WordsAfter(command, global_flags), "\"\n");
  for (const CLI::App* sub : command.get_subcommands([](const CLI::App*) { return true; })) {
    std::vector<std::string> names = sub->get_aliases();
    names.insert(names.begin(), sub->get_name());
    for (const std::string& name : names) {
      AddEntries(*sub, absl::StrCat(path, " ", name), global_flags, entries);
    }
  }
}

std::vector<std::string> GlobalFlags(const CLI::App& app) {
  std::vector<std::string> flags;
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) {
      if (name != "help" && name != "version") flags.push_back("--" + name);
    }
  }
  return flags;
}

constexpr char kScriptHead[] =
    R"(# bash completion for fleetctl. Load it with: source <(fleetctl completion bash)
_fleetctl() {
  local -A words=(
)";

constexpr char kScriptTail[] = R"(  )
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} path=fleetctl i
  case $prev in
    -o|--output) COMPREPLY=($(compgen -W "table json yaml" -- "$cur")); return ;;
    -f|--filename|--token-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    --role) COMPREPLY=($(compgen -W "admin operator viewer" -- "$cur")); return ;;
    --status) COMPREPLY=($(compgen -W "online offline" -- "$cur")); return ;;
  esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    if [[ -n ${words["$path ${COMP_WORDS[i]}"]+set} ]]; then path="$path ${COMP_WORDS[i]}"; fi
  done
  COMPREPLY=($(compgen -W "${words[$path]}" -- "$cur"))
}
complete -F _fleetctl fleetctl
)";

}  // namespace

void AddCompletionCommand(CLI::App& app, CommandAction* action) {
  CLI::App* completion =
      AddGroup(app, "completion",
               "Print a shell completion script. Example: source <(fleetctl completion bash)");
  SetExamples(completion, {"source <(fleetctl completion bash)"});
  CLI::App* bash = completion->add_subcommand("bash", "The script for bash 4 and later.");
  SetExamples(bash, {"source <(fleetctl completion bash)",
                     "fleetctl completion bash > /etc/bash_completion.d/fleetctl"});
  OnLocalCommand(bash, action, [&app](std::ostream& out) {
    std::string entries;
    AddEntries(app, "fleetctl", GlobalFlags(app), entries);
    out << kScriptHead << entries << kScriptTail;
    return absl::OkStatus();
  });
}

}  // namespace fleet::cli
