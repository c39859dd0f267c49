#include "cli/usage_errors.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/exit_codes.h"

namespace fleet::cli {
namespace {

// Edits from `a` to `b`: insertions, deletions, substitutions, and swaps of neighbours, which a
// typist makes as often as the others ("gte" for "get").
size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::vector<const CLI::App*> NamedSubcommands(const CLI::App& command) {
  return command.get_subcommands(
      [](const CLI::App* sub) { return !sub->get_name().empty() && !sub->get_disabled(); });
}

// The subcommands help lists and errors suggest: hidden ones (no group, e.g. `__complete`) are
// found when typed but never offered.
std::vector<const CLI::App*> ListedSubcommands(const CLI::App& command) {
  std::vector<const CLI::App*> listed;
  for (const CLI::App* sub : NamedSubcommands(command)) {
    if (!sub->get_group().empty()) listed.push_back(sub);
  }
  return listed;
}

bool TakesPositionals(const CLI::App& command) {
  return command.get_allow_extras() || command.get_prefix_command() ||
         !command.get_options([](const CLI::Option* option) { return option->get_positional(); })
              .empty();
}

// A command that only groups subcommands: a word after it must name one of them.
bool IsGroup(const CLI::App& command) {
  return !NamedSubcommands(command).empty() && !TakesPositionals(command);
}

const CLI::App* FindSubcommand(const CLI::App& command, const std::string& word) {
  for (const CLI::App* sub : NamedSubcommands(command)) {
    if (sub->check_name(word)) return sub;
  }
  return nullptr;
}

absl::Status UnknownCommand(const CLI::App& command, const std::string& word) {
  std::vector<std::string> names;
  for (const CLI::App* sub : ListedSubcommands(command)) {
    names.push_back(sub->get_name());
    for (const std::string& alias : sub->get_aliases()) names.push_back(alias);
  }
  const std::string nearest = NearestName(word, names);
  const std::string path = CommandPath(command);
  return UsageError(absl::StrCat("unknown command \"", word, "\" for \"", path, "\"",
                                 nearest.empty()
                                     ? absl::StrCat("; see '", path, " --help'")
                                     : absl::StrCat("; did you mean \"", nearest, "\"?")));
}

// The option `name` (e.g. "--address" or "-o") of `command` or of a parent it falls through to.
const CLI::Option* FindOption(const CLI::App& command, const std::string& name) {
  for (const CLI::App* at = &command; at != nullptr; at = at->get_parent()) {
    if (const CLI::Option* option = at->get_option_no_throw(name); option != nullptr) {
      return option;
    }
  }
  return nullptr;
}

absl::Status UnknownFlag(const CLI::App& command, const std::string& flag) {
  std::vector<std::string> names;
  for (const CLI::App* at = &command; at != nullptr; at = at->get_parent()) {
    for (const CLI::Option* option : at->get_options()) {
      for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
      for (const std::string& name : option->get_snames()) names.push_back("-" + name);
    }
  }
  const std::string nearest = NearestName(flag, names);
  const std::string path = CommandPath(command);
  return UsageError(absl::StrCat("unknown flag \"", flag, "\" for \"", path, "\"",
                                 nearest.empty()
                                     ? absl::StrCat("; see '", path, " --help'")
                                     : absl::StrCat("; did you mean \"", nearest, "\"?")));
}

// How a flag word splits: "--address=x" into "--address" and "x", "-ojson" into "-o" and
// "json".
std::pair<std::string, std::optional<std::string>> SplitFlag(const std::string& word) {
  if (absl::StartsWith(word, "--")) {
    const size_t equals = word.find('=');
    if (equals == std::string::npos) return {word, std::nullopt};
    return {word.substr(0, equals), word.substr(equals + 1)};
  }
  if (word.size() > 2) return {word.substr(0, 2), word.substr(2)};
  return {word, std::nullopt};
}

bool IsFlag(const std::string& word) { return word.size() > 1 && word[0] == '-'; }

// The option's name as the operator types it: "--selector" rather than "-l,--selector".
std::string FlagName(const CLI::Option& option) {
  if (!option.get_lnames().empty()) return "--" + option.get_lnames().front();
  if (!option.get_snames().empty()) return "-" + option.get_snames().front();
  return option.get_name();
}

// "NAME" or "--policy NAME" as the help shows it.
std::string Wanted(const CLI::App& command, const std::string& name) {
  const CLI::Option* option = FindOption(command, name);
  // CLI11's own type names ("INT", "TEXT") say nothing an operator needs.
  static const auto* const kGeneric =
      new std::set<std::string>({"INT", "UINT", "FLOAT", "TEXT", "BOOLEAN", "INT ...", "TEXT ..."});
  if (option == nullptr || option->get_positional() || option->get_type_name().empty() ||
      kGeneric->contains(option->get_type_name())) {
    return name;
  }
  // "-f/--filename FILE": the short name is what most type.
  const std::string names = option->get_snames().empty()
                                ? name
                                : absl::StrCat("-", option->get_snames().front(), "/", name);
  return absl::StrCat(names, " ", option->get_type_name());
}

// CLI11's "NAME: detail" split at the first ": ", or nullopt.
std::optional<std::pair<std::string, std::string>> NameAndDetail(const std::string& message) {
  const size_t colon = message.find(": ");
  if (colon == std::string::npos || colon == 0 || message.find(' ') < colon) return std::nullopt;
  return std::pair(message.substr(0, colon), message.substr(colon + 2));
}

// The value CLI11 quotes in "Value V not in range ..." and "Check V value in ... FAILED".
std::optional<std::string> RejectedValue(const std::string& detail) {
  for (const auto& [before, after] :
       {std::pair("Value ", " not in range"), std::pair("Check ", " value in ")}) {
    if (!absl::StartsWith(detail, before)) continue;
    const size_t end = detail.find(after);
    if (end != std::string::npos) return detail.substr(strlen(before), end - strlen(before));
  }
  return std::nullopt;
}

std::string DescribeValidation(const std::string& message) {
  const auto parts = NameAndDetail(message);
  if (!parts.has_value()) return message;
  const auto& [name, detail] = *parts;
  // Our validators (flag_values.h) start with the quoted value; CLI11's own name it in prose.
  if (absl::StartsWith(detail, "\"")) return absl::StrCat("invalid ", name, " ", detail);
  // "invalid duration \"1d\": ..." (duration.h) names the kind of value; the flag says more.
  if (const size_t quote = detail.find('"'); absl::StartsWith(detail, "invalid ") &&
                                             quote != std::string::npos &&
                                             detail.find(' ', strlen("invalid ")) + 1 == quote) {
    return absl::StrCat("invalid ", name, " ", detail.substr(quote));
  }
  if (std::optional<std::string> value = RejectedValue(detail); value.has_value()) {
    return absl::StrCat("invalid ", name, " \"", *value, "\"");
  }
  return message;
}

std::string DescribeRequired(const std::string& message, const CLI::App& command) {
  const std::string path = CommandPath(command);
  if (message == "A subcommand is required") {
    std::vector<std::string> names;
    for (const CLI::App* sub : ListedSubcommands(command)) names.push_back(sub->get_name());
    return absl::StrCat(path, " needs a command: ", absl::StrJoin(names, ", "));
  }
  absl::string_view rest = message;
  if (absl::ConsumePrefix(&rest, "Exactly 1 option from [")) {
    const size_t end = rest.find(']');
    std::vector<std::string> names = absl::StrSplit(rest.substr(0, end), ',');
    return absl::StrCat(path, " needs exactly one of ", absl::StrJoin(names, ", "));
  }
  if (absl::ConsumeSuffix(&rest, " is required")) {
    return absl::StrCat(path, " needs ", Wanted(command, std::string(rest)));
  }
  return message;
}

}  // namespace

std::string CommandPath(const CLI::App& command) {
  std::vector<std::string> names;
  for (const CLI::App* at = &command; at != nullptr; at = at->get_parent()) {
    if (!at->get_name().empty()) names.push_back(at->get_name());
  }
  std::reverse(names.begin(), names.end());
  return absl::StrJoin(names, " ");
}

std::string NearestName(const std::string& typed, const std::vector<std::string>& candidates) {
  const size_t dashes = std::min(typed.find_first_not_of('-'), typed.size());
  const size_t length = typed.size() - dashes;
  // One edit turns any short name into many others ("-f" into "-o"): short names need to be
  // nearer to be suggested, and one or two letters are only a prefix.
  const size_t max_distance = length <= 2 ? 0 : length <= 4 ? 1 : 2;
  std::string best;
  size_t best_distance = max_distance + 1;
  for (const std::string& candidate : candidates) {
    size_t distance = EditDistance(typed, candidate);
    if (length >= 2 && absl::StartsWith(candidate, typed)) distance = 0;
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

absl::Status CheckCommandLine(const CLI::App& app, const std::vector<std::string>& args) {
  const CLI::App* command = &app;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--") break;
    if (IsFlag(word)) {
      const auto [name, inline_value] = SplitFlag(word);
      const CLI::Option* option = FindOption(*command, name);
      if (option == nullptr) return UnknownFlag(*command, name);
      // A flag's value is the next word unless it was given inline.
      if (option->get_type_size() != 0 && !inline_value.has_value()) ++i;
      continue;
    }
    if (const CLI::App* sub = FindSubcommand(*command, word); sub != nullptr) {
      command = sub;
      if (sub->get_prefix_command()) break;
      continue;
    }
    if (IsGroup(*command)) return UnknownCommand(*command, word);
  }
  return absl::OkStatus();
}

absl::StatusOr<const CLI::App*> FindCommand(const CLI::App& app,
                                            const std::vector<std::string>& words) {
  const CLI::App* command = &app;
  for (const std::string& word : words) {
    if (IsFlag(word)) continue;
    const CLI::App* sub = FindSubcommand(*command, word);
    if (sub == nullptr) return UnknownCommand(*command, word);
    command = sub;
  }
  return command;
}

const CLI::App& SelectedCommand(const CLI::App& app) {
  const CLI::App* command = &app;
  // Bounded by the depth of the command tree.
  while (true) {
    std::vector<const CLI::App*> selected = command->get_subcommands(
        [](const CLI::App* sub) { return sub->parsed() && !sub->get_name().empty(); });
    if (selected.empty()) return *command;
    command = selected.front();
  }
}

std::string DescribeParseError(const CLI::ParseError& error, const CLI::App& command) {
  const std::string message = error.what();
  const std::string path = CommandPath(command);
  if (dynamic_cast<const CLI::ValidationError*>(&error) != nullptr) {
    return DescribeValidation(message);
  }
  if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr) {
    return DescribeRequired(message, command);
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
    const size_t colon = message.find(": ");
    std::vector<std::string> extras = absl::StrSplit(
        colon == std::string::npos ? "" : message.substr(colon + 2), ' ', absl::SkipEmpty());
    for (std::string& extra : extras) extra = absl::StrCat("\"", extra, "\"");
    return absl::StrCat(extras.size() == 1 ? "unexpected argument " : "unexpected arguments ",
                        absl::StrJoin(extras, " "), " for \"", path, "\"; see '", path, " --help'");
  }
  if (dynamic_cast<const CLI::ExcludesError*>(&error) != nullptr) {
    std::vector<std::string> names = absl::StrSplit(message, " excludes ");
    if (names.size() == 2) {
      return absl::StrCat(names[0], " and ", names[1], " cannot be used together");
    }
  }
  if (dynamic_cast<const CLI::ConversionError*>(&error) != nullptr) {
    absl::string_view rest = message;
    if (absl::ConsumePrefix(&rest, "Could not convert: ")) {
      std::vector<std::string> parts = absl::StrSplit(rest, absl::MaxSplits(" = ", 1));
      if (parts.size() == 2) return absl::StrCat("invalid ", parts[0], " \"", parts[1], "\"");
    }
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr) {
    if (const auto parts = NameAndDetail(message); parts.has_value()) {
      const CLI::Option* option = FindOption(command, parts->first);
      const std::string name = option == nullptr ? parts->first : FlagName(*option);
      if (option != nullptr && option->get_type_size() == 0) {
        return absl::StrCat(name, " takes no value");
      }
      return absl::StrCat(name, " needs a value");
    }
  }
  return message;
}

}  // namespace fleet::cli
