#include "cli/help_formatter.h"

#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fleet::cli {

void HelpFormatter::SetExamples(const CLI::App* command, std::vector<std::string> examples) {
  examples_[command] = std::move(examples);
}

std::string HelpFormatter::make_help(const CLI::App* app, std::string name,
                                     CLI::AppFormatMode mode) const {
  if (mode == CLI::AppFormatMode::Sub) return CLI::Formatter::make_help(app, name, mode);
  std::stringstream out;
  out << make_description(app) << make_usage(app, name) << make_positionals(app)
      << make_groups(app, mode) << make_subcommands(app, mode);
  if (!app->get_subcommands({}).empty()) {
    out << "\nRun '" << name << " COMMAND --help' for a command's flags and examples.\n";
  }
  out << MakeGlobalFlags(*app) << MakeExamples(*app) << '\n' << make_footer(app);
  return out.str();
}

std::string HelpFormatter::MakeGlobalFlags(const CLI::App& app) const {
  if (app.get_parent() == nullptr) return "";
  const CLI::App* root = &app;
  while (root->get_parent() != nullptr) root = root->get_parent();
  std::vector<const CLI::Option*> flags = root->get_options([root](const CLI::Option* option) {
    return option->nonpositional() && option != root->get_help_ptr() &&
           option != root->get_help_all_ptr() && option != root->get_version_ptr();
  });
  if (flags.empty()) return "";
  return make_group("Global flags", false, flags);
}

std::string HelpFormatter::MakeExamples(const CLI::App& app) const {
  const auto found = examples_.find(&app);
  if (found == examples_.end() || found->second.empty()) return "";
  std::string text = "\nExamples:\n";
  for (const std::string& example : found->second) {
    for (absl::string_view line : absl::StrSplit(example, '\n')) {
      absl::StrAppend(&text, "  ", line, "\n");
    }
  }
  return text;
}

}  // namespace fleet::cli
