#include "cli/completion.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/resource_json.h"
#include "common/utf8.h"

namespace fleet::cli {
namespace {

template <typename T>
std::vector<std::string> Keys(const std::map<std::string, T>& map) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : map) keys.push_back(key);
  return keys;
}

// The values worth offering for an enum flag: those its type name lists ("a|b|c", as help shows
// an enum), and for the enum flags fleetctl has, by long name, the values they take or may take.
// Only those the flag's own validator accepts are offered (Accepts), so a value the parser drops
// is never suggested, and one another version of the parser adds is offered once it takes it.
std::vector<std::string> EnumCandidates(const CLI::Option& option) {
  std::vector<std::string> candidates;
  const std::string type = option.get_type_name();
  if (absl::StrContains(type, '|')) {
    candidates = absl::StrSplit(type.substr(0, type.find(':')), '|', absl::SkipEmpty());
  }
  std::vector<std::string> known;
  if (option.check_lname("output")) known = {"table", "wide", "json", "yaml", "name"};
  if (option.check_lname("role")) known = Keys(RolesByName());
  if (option.check_lname("status")) {
    known = Keys(AgentStatusesByName());
    known.insert(known.end(), {"acked", "nacked", "pending"});
  }
  for (std::string& value : known) {
    if (std::find(candidates.begin(), candidates.end(), value) == candidates.end()) {
      candidates.push_back(std::move(value));
    }
  }
  return candidates;
}

// Whether `value` passes `option`'s first validator (the enum's transformer); true when it has
// none.
bool Accepts(CLI::Option& option, const std::string& value) {
  CLI::Validator* validator = nullptr;
  try {
    validator = option.get_validator();
  } catch (const CLI::OptionNotFound&) {
    return true;  // CLI11 reports "no validator" only by throwing
  }
  return (*validator)(value).empty();
}

// The resource the nearest path word of `command` (itself first, then its parents) names.
Dynamic ResourceOfPath(const CLI::App& command) {
  static const auto* const kNouns = new std::map<std::string, Dynamic, std::less<>>{
      {"policy", Dynamic::kPolicies},
      {"policies", Dynamic::kPolicies},
      {"rollout", Dynamic::kPolicies},
      {"agent", Dynamic::kAgents},
      {"agents", Dynamic::kAgents},
      {"token", Dynamic::kEnrollmentTokens},
      {"tokens", Dynamic::kEnrollmentTokens},
      {"admin-token", Dynamic::kAdminTokens},
      {"admin-tokens", Dynamic::kAdminTokens},
      {"action", Dynamic::kActions},
      {"actions", Dynamic::kActions},
      {"config", Dynamic::kContexts},
  };
  for (const CLI::App* at = &command; at != nullptr; at = at->get_parent()) {
    if (auto it = kNouns->find(at->get_name()); it != kNouns->end()) return it->second;
  }
  return Dynamic::kNone;
}

bool TakesValue(const CLI::Option& option) { return option.get_type_size_max() > 0; }

// `command` and its parents, whose flags it accepts too (fleetctl's tree falls through).
std::vector<CLI::App*> Chain(CLI::App* command) {
  std::vector<CLI::App*> chain;
  for (CLI::App* at = command; at != nullptr; at = at->get_parent()) chain.push_back(at);
  return chain;
}

struct Flag {
  CLI::Option* option = nullptr;  // nullptr: no such flag
  const CLI::App* owner = nullptr;
};

// The flag named `name` ("--long" or "-s") that `command` accepts.
Flag FindFlag(CLI::App* command, const std::string& name) {
  const bool is_long = absl::StartsWith(name, "--");
  const std::string bare(name.substr(is_long ? 2 : 1));
  if (bare.empty()) return {};
  for (CLI::App* at : Chain(command)) {
    for (CLI::Option* option : at->get_options([](const CLI::Option*) { return true; })) {
      if (option->get_positional()) continue;
      if (is_long ? option->check_lname(bare) : option->check_sname(bare)) return {option, at};
    }
  }
  return {};
}

std::vector<CLI::App*> VisibleSubcommands(CLI::App* command) {
  return command->get_subcommands([](CLI::App* sub) { return !IsHiddenCommand(*sub); });
}

CLI::App* FindSubcommand(CLI::App* command, const std::string& word) {
  for (CLI::App* sub : VisibleSubcommands(command)) {
    if (sub->check_name(word)) return sub;
  }
  return nullptr;
}

// The positional argument of `command` that the `index`th positional word (from 0) fills.
CLI::Option* PositionalAt(CLI::App* command, int index) {
  for (CLI::Option* option :
       command->get_options([](const CLI::Option* o) { return o->get_positional(); })) {
    const int takes = option->get_items_expected_max();
    if (index < takes) return option;
    index -= takes;
  }
  return nullptr;
}

// A description short enough for a completion menu, cut at a word near kMaxDescription
// characters.
std::string Summary(std::string summary) {
  constexpr size_t kMaxDescription = 70;
  if (summary.size() <= kMaxDescription) return summary;
  const size_t cut = summary.rfind(' ', kMaxDescription - 3);
  if (cut != std::string::npos) return summary.substr(0, cut) + "...";
  return std::string(TruncateUtf8(summary, kMaxDescription - 3)) + "...";
}

// Where the walk over the typed words ended.
struct Position {
  CLI::App* command;
  Flag pending;                               // a flag whose value is the next word
  int positionals = 0;                        // positional words given to `command`
  std::vector<std::string> positional_words;  // what they are
  bool only_positionals = false;              // after "--"
  std::vector<std::string> global_words;      // the flags (and values) of the root app, as typed
};

Position Walk(CLI::App& app, const std::vector<std::string>& typed) {
  Position at{.command = &app};
  for (const std::string& word : typed) {
    if (at.pending.option != nullptr) {
      if (word == "=") continue;  // bash splits "--flag=value" into three words
      if (at.pending.owner == &app) at.global_words.push_back(word);
      at.pending = {};
      continue;
    }
    if (!at.only_positionals && word == "--") {
      at.only_positionals = true;
      continue;
    }
    if (!at.only_positionals && word.size() > 1 && word[0] == '-') {
      const bool is_long = absl::StartsWith(word, "--");
      const size_t equals = word.find('=');
      // A short flag's value may follow it in the same word ("-ojson").
      const std::string name = is_long ? word.substr(0, equals) : word.substr(0, 2);
      const Flag flag = FindFlag(at.command, name);
      if (flag.option == nullptr) continue;
      if (flag.owner == &app) at.global_words.push_back(word);
      const bool value_attached = is_long ? equals != std::string::npos : word.size() > 2;
      if (TakesValue(*flag.option) && !value_attached) at.pending = flag;
      continue;
    }
    if (at.positionals == 0 && !at.only_positionals) {
      if (CLI::App* sub = FindSubcommand(at.command, word); sub != nullptr) {
        at.command = sub;
        continue;
      }
    }
    ++at.positionals;
    at.positional_words.push_back(word);
  }
  return at;
}

// The global flags parsed before `__complete`, overridden by those typed.
GlobalOptions TypedGlobals(const GlobalOptions& parsed, const std::vector<std::string>& words) {
  GlobalOptions globals = parsed;
  CLI::App parser;
  AddGlobalOptions(parser, &globals);
  parser.allow_extras();
  std::vector<std::string> reversed(words.rbegin(), words.rend());
  try {
    parser.parse(reversed);
  } catch (const CLI::ParseError&) {
    return parsed;  // a half-typed or bad flag: ask as if none was typed
  }
  return globals;
}

void AddMatching(std::vector<Candidate> from, const std::string& prefix, const std::string& typed,
                 std::vector<Candidate>& to) {
  for (Candidate& candidate : from) {
    if (!absl::StartsWith(candidate.value, typed)) continue;
    candidate.value = absl::StrCat(prefix, candidate.value);
    to.push_back(std::move(candidate));
  }
}

// Adds the values of `option` starting with `typed`, each after `prefix`.
void AddValues(const CLI::App& command, CLI::Option& option, const std::string& prefix,
               const std::string& typed, const std::vector<std::string>& global_words,
               const GlobalOptions& globals, DynamicSource& source, Completion& completion) {
  ValueSource values = SourceFor(command, option);
  if (values.files) completion.files = true;
  std::vector<Candidate> found;
  for (std::string& choice : values.choices) found.push_back({std::move(choice), ""});
  if (values.dynamic != Dynamic::kNone) {
    std::vector<Candidate> listed =
        source.List(values.dynamic, TypedGlobals(globals, global_words));
    found.insert(found.end(), listed.begin(), listed.end());
  }
  AddMatching(std::move(found), prefix, typed, completion.candidates);
}

void AddFlags(CLI::App* command, const std::string& typed, Completion& completion) {
  std::set<std::string> seen;
  std::vector<Candidate> flags;
  for (CLI::App* at : Chain(command)) {
    for (const CLI::Option* option : at->get_options([](const CLI::Option*) { return true; })) {
      if (option->get_positional()) continue;
      // A parent's --help and --version are about the parent: its own --help is the command's.
      const bool parents_own = option == at->get_help_ptr() || option == at->get_version_ptr();
      if (at != command && parents_own) continue;
      const std::string description = FirstSentence(option->get_description());
      for (const std::string& name : option->get_lnames()) {
        if (seen.insert("--" + name).second) flags.push_back({"--" + name, description});
      }
      for (const std::string& name : option->get_snames()) {
        if (seen.insert("-" + name).second) flags.push_back({"-" + name, description});
      }
    }
  }
  AddMatching(std::move(flags), "", typed, completion.candidates);
}

void AddSubcommands(CLI::App* command, const std::string& typed, Completion& completion) {
  std::vector<Candidate> subcommands;
  for (const CLI::App* sub : VisibleSubcommands(command)) {
    subcommands.push_back({sub->get_name(), FirstSentence(sub->get_description())});
  }
  AddMatching(std::move(subcommands), "", typed, completion.candidates);
}

}  // namespace

ValueSource SourceFor(const CLI::App& command, CLI::Option& option) {
  ValueSource source;
  for (std::string& choice : EnumCandidates(option)) {
    if (Accepts(option, choice)) source.choices.push_back(std::move(choice));
  }
  if (!source.choices.empty()) return source;
  if (absl::StartsWith(option.get_type_name(), "FILE")) {
    source.files = true;
  } else if (option.check_lname("policy")) {
    source.dynamic = Dynamic::kPolicies;
  } else if (option.check_lname("agent")) {
    source.dynamic = Dynamic::kAgents;
  } else if (option.check_lname("context")) {
    source.dynamic = Dynamic::kContexts;
  } else if (option.get_positional()) {
    const std::string name = option.get_name(true);
    if (name == "NAME" || name == "ID") {
      source.dynamic = ResourceOfPath(command);
    } else if (name == "POLICY") {
      source.dynamic = Dynamic::kPolicies;
    } else if (name == "AGENT") {
      source.dynamic = Dynamic::kAgents;
    } else if (name == "CONTEXT") {
      source.dynamic = Dynamic::kContexts;
    }
  }
  return source;
}

Completion Complete(CLI::App& app, const std::vector<std::string>& words,
                    const GlobalOptions& globals, DynamicSource& source) {
  const std::string typed = words.empty() ? "" : words.back();
  const std::vector<std::string> before(words.begin(),
                                        words.empty() ? words.end() : words.end() - 1);
  Position at = Walk(app, before);
  Completion completion;
  if (at.pending.option != nullptr) {
    AddValues(*at.command, *at.pending.option, "", typed, at.global_words, globals, source,
              completion);
    return completion;
  }
  if (!at.only_positionals && absl::StartsWith(typed, "-")) {
    const size_t equals = typed.find('=');
    if (absl::StartsWith(typed, "--") && equals != std::string::npos) {
      const Flag flag = FindFlag(at.command, typed.substr(0, equals));
      if (flag.option != nullptr && TakesValue(*flag.option)) {
        AddValues(*at.command, *flag.option, typed.substr(0, equals + 1), typed.substr(equals + 1),
                  at.global_words, globals, source, completion);
      }
      return completion;
    }
    AddFlags(at.command, typed, completion);
    return completion;
  }
  if (at.positionals == 0 && !at.only_positionals) AddSubcommands(at.command, typed, completion);
  if (CLI::Option* positional = PositionalAt(at.command, at.positionals); positional != nullptr) {
    AddValues(*at.command, *positional, "", typed, at.global_words, globals, source, completion);
  } else if (at.command->get_prefix_command() && !at.only_positionals) {
    // A command that hands its words on (`help get policies`) takes a command path.
    CLI::App* named = &app;
    for (const std::string& word : at.positional_words) {
      if (named != nullptr) named = FindSubcommand(named, word);
    }
    if (named != nullptr) AddSubcommands(named, typed, completion);
  }
  return completion;
}

std::string FormatCompletion(const Completion& completion) {
  if (completion.files) return ":files\n";
  auto is_control = [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; };
  std::string out;
  for (const Candidate& candidate : completion.candidates) {
    // A tab or newline would end the field or the line early; a value holding one could not be
    // typed anyway, and a description (a policy's, say) is only shown.
    if (candidate.value.empty() ||
        std::any_of(candidate.value.begin(), candidate.value.end(), is_control)) {
      continue;
    }
    std::string description = Summary(candidate.description);
    std::replace_if(description.begin(), description.end(), is_control, ' ');
    absl::StrAppend(&out, candidate.value);
    if (!description.empty()) absl::StrAppend(&out, "\t", description);
    absl::StrAppend(&out, "\n");
  }
  return out;
}

bool IsHiddenCommand(const CLI::App& command) { return command.get_group().empty(); }

std::string FirstSentence(const std::string& text) {
  size_t end = std::min(text.find(". "), text.find('\n'));
  if (end == std::string::npos) end = text.size();
  std::string sentence = text.substr(0, end);
  if (absl::EndsWith(sentence, ".")) sentence.pop_back();
  return sentence;
}

}  // namespace fleet::cli
