#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"
#include "cli/completion.h"
#include "cli/completion_scripts.h"
#include "cli/completion_source.h"

namespace fleet::cli {
namespace {

void AddScript(CLI::App& completion, const std::string& shell, const std::string& description,
               std::string_view script, CommandAction* action) {
  CLI::App* command = completion.add_subcommand(shell, description);
  OnLocalCommand(command, action, [script](std::ostream& out) {
    out << script;
    return absl::OkStatus();
  });
}

}  // namespace

void AddCompletionCommand(CLI::App& app, const GlobalOptions& globals, CommandAction* action) {
  CLI::App* completion = AddGroup(
      app, "completion",
      "Print a shell completion script for bash, zsh or fish. It completes commands, flags, "
      "flag values and, from fleetd, policy names, agent ids and token ids, and context names "
      "from the config file.");
  SetExamples(completion, {"source <(fleetctl completion bash)",
                           "fleetctl completion zsh > \"${fpath[1]}/_fleetctl\""});
  AddScript(*completion, "bash",
            "The script for bash 4 and later. Load it with: source <(fleetctl completion bash), "
            "or install it: fleetctl completion bash > "
            "~/.local/share/bash-completion/completions/fleetctl",
            BashCompletionScript(), action);
  AddScript(*completion, "zsh",
            "The script for zsh. Install it: fleetctl completion zsh > \"${fpath[1]}/_fleetctl\" "
            "(then start a new shell), or load it after compinit: source <(fleetctl completion "
            "zsh)",
            ZshCompletionScript(), action);
  AddScript(*completion, "fish",
            "The script for fish 3 and later. Load it with: fleetctl completion fish | source, or "
            "install it: fleetctl completion fish > ~/.config/fish/completions/fleetctl.fish",
            FishCompletionScript(), action);
  SetExamples(completion->get_subcommand("bash"),
              {"source <(fleetctl completion bash)",
               "fleetctl completion bash > ~/.local/share/bash-completion/completions/fleetctl"});
  SetExamples(completion->get_subcommand("zsh"),
              {"fleetctl completion zsh > \"${fpath[1]}/_fleetctl\""});
  SetExamples(completion->get_subcommand("fish"),
              {"fleetctl completion fish > ~/.config/fish/completions/fleetctl.fish"});

  // What the scripts call at every TAB: never shown, and silent whatever happens, since its
  // output lands on the operator's command line.
  auto words = std::make_shared<std::vector<std::string>>();
  CLI::App* complete = app.add_subcommand(
      "__complete", "The candidates for the last of WORDS, one per line (completion.h).");
  complete->group("");
  complete->add_option("WORDS", *words,
                       "The words typed after fleetctl, the last one being completed; put them "
                       "after -- so that flags among them are not parsed.");
  OnLocalCommand(complete, action, [&app, &globals, words](std::ostream& out) {
    std::unique_ptr<DynamicSource> source = NewFleetdSource();
    out << FormatCompletion(Complete(app, *words, globals, *source));
    return absl::OkStatus();
  });
}

}  // namespace fleet::cli
