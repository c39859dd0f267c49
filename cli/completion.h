// Shell completion computed from fleetctl's CLI11 command tree, as cobra's `__complete` does:
// given the words typed so far, the candidates for the word being typed (subcommands, flags,
// the values of enum flags, file names, and names and ids that only fleetd or the config file
// know). The shell scripts of completion_scripts.h only ask `fleetctl __complete` and show
// what it prints, so a command added to the tree completes without touching them.
#ifndef FLEETD_CLI_COMPLETION_H_
#define FLEETD_CLI_COMPLETION_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "cli/global_options.h"

namespace fleet::cli {

// A word the shell may offer, and a few words on what it is (zsh and fish show them).
struct Candidate {
  std::string value;
  std::string description;  // may be empty

  bool operator==(const Candidate&) const = default;
};

// What names or ids a value stands for, when only fleetd or the config file knows them.
enum class Dynamic {
  kNone,
  kPolicies,          // policy names
  kAgents,            // agent ids
  kEnrollmentTokens,  // enrollment token ids
  kAdminTokens,       // admin token ids
  kActions,           // action ids
  kContexts,          // the config file's context names
};

// Where dynamic candidates come from. List returns every candidate it knows of `kind` (the
// caller filters them by what was typed), and an empty list on any error: completion never
// reports one.
class DynamicSource {
 public:
  virtual ~DynamicSource() = default;
  // `globals`: the global flags of the command line, over those parsed before `__complete`,
  // e.g. the --context or --address to ask.
  virtual std::vector<Candidate> List(Dynamic kind, const GlobalOptions& globals) = 0;
};

// How a flag's or a positional argument's value completes.
struct ValueSource {
  std::vector<std::string> choices;  // an enum's values, as the flag's parser accepts them
  Dynamic dynamic = Dynamic::kNone;
  bool files = false;  // a path
};

// How `option` (a flag or a positional argument of `command`) completes: the values of an enum
// flag (one whose type name lists them as "a|b|c", and -o/--output, --role, --status) that its
// validator accepts; files for a value whose type
// name is FILE; policy names for --policy, agent ids for --agent and context names for
// --context; for a positional
// POLICY, AGENT or CONTEXT, what it says; for a positional NAME or ID, the resource named by the
// nearest of the command's path words that names one (policy/policies/rollout, agent/agents,
// token/tokens, admin-token/admin-tokens, action/actions, config for contexts). Nothing for
// anything else.
ValueSource SourceFor(const CLI::App& command, CLI::Option& option);

struct Completion {
  std::vector<Candidate> candidates;  // in the order to show them
  bool files = false;                 // the shell should complete file names instead
};

// The completion of the last of `words` (the words after the program's name, the last one the
// one being typed, possibly empty) on `app`'s tree. Hidden commands (CLI11 group "") are never
// offered. A word starting with "-" completes flag names (those of the command reached and of
// its parents); the word after a flag that takes a value, or after "--flag=", completes its
// values; any other word completes the subcommands of the command reached and the values of its
// next positional argument, or, for a command that hands its words on (CLI11's prefix_command,
// as `help` does), the commands below the ones those words name. Only candidates starting with the
// typed word are returned. Asks `source` only for a value that is Dynamic, once. `globals`: the
// global flags parsed before
// `__complete`; those among `words` override them.
Completion Complete(CLI::App& app, const std::vector<std::string>& words,
                    const GlobalOptions& globals, DynamicSource& source);

// The lines `fleetctl __complete` prints for `completion`: "VALUE" or "VALUE\tDESCRIPTION", one
// per candidate, or the single line ":files" when the shell should complete file names.
std::string FormatCompletion(const Completion& completion);

// Whether `command` is left out of help, completion and man pages: CLI11 hides a command whose
// group is "".
bool IsHiddenCommand(const CLI::App& command);

// The first sentence of `text` (up to ". " or a newline), for a one-line description.
std::string FirstSentence(const std::string& text);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_COMPLETION_H_
