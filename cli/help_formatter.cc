#include "cli/help_formatter.h"

#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace fleet::cli {
namespace {

// `text` with its lines broken at spaces so that none is longer than `width` (a longer word
// stays whole); the line breaks it had are kept.
std::string Wrap(const std::string& text, size_t width) {
  std::string wrapped;
  for (absl::string_view paragraph : absl::StrSplit(text, '\n')) {
    if (!wrapped.empty()) wrapped += '\n';
    size_t line = 0;
    for (absl::string_view word : absl::StrSplit(paragraph, ' ', absl::SkipEmpty())) {
      if (line > 0 && line + 1 + word.size() > width) {
        wrapped += '\n';
        line = 0;
      } else if (line > 0) {
        wrapped += ' ';
        ++line;
      }
      absl::StrAppend(&wrapped, word);
      line += word.size();
    }
  }
  return wrapped;
}

}  // namespace

void HelpFormatter::SetExamples(const CLI::App* command, std::vector<std::string> examples) {
  examples_[command] = std::move(examples);
}

std::vector<std::string> HelpFormatter::Examples(const CLI::App* command) const {
  const auto found = examples_.find(command);
  return found == examples_.end() ? std::vector<std::string>() : found->second;
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

std::string HelpFormatter::make_description(const CLI::App* app) const {
  const std::string description = CLI::Formatter::make_description(app);
  const absl::string_view text = absl::StripTrailingAsciiWhitespace(description);
  return text.empty() ? "" : Wrap(std::string(text), kHelpWidth) + "\n\n";
}

std::string HelpFormatter::make_option_desc(const CLI::Option* option) const {
  return Wrap(CLI::Formatter::make_option_desc(option), kHelpWidth - get_column_width());
}

std::string HelpFormatter::make_subcommand(const CLI::App* sub) const {
  std::stringstream out;
  CLI::detail::format_help(out, sub->get_display_name(true),
                           Wrap(sub->get_description(), kHelpWidth - get_column_width()),
                           get_column_width());
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
