#include "cli/man_page.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "cli/command.h"
#include "cli/completion.h"

namespace fleet::cli {
namespace {

// The command's path from the root: {"fleetctl", "get", "policies"}.
std::vector<std::string> PathOf(const CLI::App& command) {
  std::vector<std::string> path;
  for (const CLI::App* at = &command; at != nullptr; at = at->get_parent()) {
    path.insert(path.begin(), at->get_name());
  }
  return path;
}

std::string PageName(const CLI::App& command) { return absl::StrJoin(PathOf(command), "-"); }

// A name, flag or path in roff, where "-" must be \- to stay a minus sign that can be searched.
std::string RoffName(const std::string& name) {
  return absl::StrReplaceAll(RoffEscape(name), {{"-", "\\-"}});
}

std::string PageReference(const CLI::App& command) {
  return absl::StrCat("\\fB", RoffName(PageName(command)), "\\fR(1)");
}

std::string PositionalSynopsis(const CLI::Option& positional) {
  std::string name = absl::StrCat("\\fI", RoffName(positional.get_name(true)), "\\fR");
  if (positional.get_items_expected_max() > 1) absl::StrAppend(&name, "...");
  return positional.get_required() ? name : absl::StrCat("[", name, "]");
}

std::vector<const CLI::App*> VisibleSubcommands(const CLI::App& command) {
  return command.get_subcommands([](const CLI::App* sub) { return !IsHiddenCommand(*sub); });
}

std::vector<const CLI::Option*> Positionals(const CLI::App& command) {
  return command.get_options([](const CLI::Option* option) { return option->get_positional(); });
}

// Text as roff paragraphs: a blank line starts a new one, and a line break stays one (help
// texts use them for lists, e.g. exit codes), as --help shows them.
void AppendProse(const std::string& text, std::string& roff) {
  bool first = true;
  for (absl::string_view paragraph : absl::StrSplit(text, "\n\n", absl::SkipWhitespace())) {
    if (!first) absl::StrAppend(&roff, ".PP\n");
    first = false;
    const std::string escaped = RoffEscape(std::string(absl::StripAsciiWhitespace(paragraph)));
    absl::StrAppend(&roff, absl::StrReplaceAll(escaped, {{"\n", "\n.br\n"}}), "\n");
  }
}

void AppendFlags(const std::string& heading, const std::vector<const CLI::Option*>& flags,
                 std::string& roff) {
  if (flags.empty()) return;
  absl::StrAppend(&roff, ".SH ", heading, "\n");
  for (const CLI::Option* flag : flags) {
    std::vector<std::string> names;
    for (const std::string& name : flag->get_snames()) {
      names.push_back(absl::StrCat("\\fB", RoffName("-" + name), "\\fR"));
    }
    for (const std::string& name : flag->get_lnames()) {
      names.push_back(absl::StrCat("\\fB", RoffName("--" + name), "\\fR"));
    }
    absl::StrAppend(&roff, ".TP\n", absl::StrJoin(names, ", "));
    // As --help shows it, with what CLI11 appends for validators (e.g. INT:POSITIVE).
    if (const std::string type = flag->get_type_name();
        flag->get_type_size_max() > 0 && !type.empty()) {
      absl::StrAppend(&roff, " \\fI", RoffName(type), "\\fR");
    }
    absl::StrAppend(&roff, "\n");
    AppendProse(flag->get_description(), roff);
  }
}

std::string Page(const CLI::App& app, const CLI::App& command, const std::string& version) {
  const std::string name = PageName(command);
  std::string roff =
      absl::StrCat(".TH \"", RoffName(absl::AsciiStrToUpper(name)), "\" \"1\" \"\" \"",
                   RoffEscape(version), "\" \"fleetctl Manual\"\n");
  absl::StrAppend(&roff, ".SH NAME\n", RoffName(name), " \\- ",
                  RoffEscape(FirstSentence(command.get_description())), "\n");

  const std::vector<const CLI::App*> subcommands = VisibleSubcommands(command);
  const std::vector<const CLI::Option*> positionals = Positionals(command);
  absl::StrAppend(&roff, ".SH SYNOPSIS\n\\fB", RoffName(absl::StrJoin(PathOf(command), " ")),
                  "\\fR");
  if (!subcommands.empty()) absl::StrAppend(&roff, " \\fICOMMAND\\fR");
  absl::StrAppend(&roff, " [\\fIFLAGS\\fR]");
  for (const CLI::Option* positional : positionals) {
    absl::StrAppend(&roff, " ", PositionalSynopsis(*positional));
  }
  absl::StrAppend(&roff, "\n");

  absl::StrAppend(&roff, ".SH DESCRIPTION\n");
  AppendProse(command.get_description(), roff);
  if (!command.get_aliases().empty()) {
    absl::StrAppend(
        &roff, ".PP\nAlso called: ", RoffName(absl::StrJoin(command.get_aliases(), ", ")), ".\n");
  }

  if (!subcommands.empty()) {
    absl::StrAppend(&roff, ".SH COMMANDS\n");
    for (const CLI::App* sub : subcommands) {
      absl::StrAppend(&roff, ".TP\n\\fB", RoffName(sub->get_name()), "\\fR\n",
                      RoffEscape(FirstSentence(sub->get_description())), ". See ",
                      PageReference(*sub), ".\n");
    }
  }
  if (!positionals.empty()) {
    absl::StrAppend(&roff, ".SH ARGUMENTS\n");
    for (const CLI::Option* positional : positionals) {
      absl::StrAppend(&roff, ".TP\n", PositionalSynopsis(*positional), "\n");
      AppendProse(positional->get_description(), roff);
    }
  }
  AppendFlags("FLAGS", command.get_options([](const CLI::Option* option) {
    return !option->get_positional();
  }),
              roff);
  if (&command != &app) {
    AppendFlags("GLOBAL FLAGS", app.get_options([&app](const CLI::Option* option) {
      return !option->get_positional() && option != app.get_help_ptr() &&
             option != app.get_version_ptr();
    }),
                roff);
  }
  if (const std::vector<std::string> examples = ExamplesOf(command); !examples.empty()) {
    absl::StrAppend(&roff, ".SH EXAMPLES\n.nf\n", RoffEscape(absl::StrJoin(examples, "\n\n")),
                    "\n.fi\n");
  }
  // The footer holds what help prints after the flags: the environment and exit codes for
  // fleetctl itself, and whatever a command attaches there (e.g. examples).
  if (const std::string footer(absl::StripAsciiWhitespace(command.get_footer())); !footer.empty()) {
    absl::StrAppend(&roff, ".SH NOTES\n.nf\n", RoffEscape(footer), "\n.fi\n");
  }

  std::vector<std::string> see_also;
  if (command.get_parent() != nullptr) see_also.push_back(PageReference(*command.get_parent()));
  for (const CLI::App* sub : subcommands) see_also.push_back(PageReference(*sub));
  if (!see_also.empty())
    absl::StrAppend(&roff, ".SH SEE ALSO\n", absl::StrJoin(see_also, ", "), "\n");
  return roff;
}

void AddPages(const CLI::App& app, const CLI::App& command, const std::string& version,
              std::vector<ManPage>& pages) {
  pages.push_back({PageName(command) + ".1", Page(app, command, version)});
  for (const CLI::App* sub : VisibleSubcommands(command)) AddPages(app, *sub, version, pages);
}

}  // namespace

std::vector<ManPage> ManPages(const CLI::App& app, const std::string& version) {
  std::vector<ManPage> pages;
  AddPages(app, app, version, pages);
  return pages;
}

absl::Status WriteManPages(const CLI::App& app, const std::string& version,
                           const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return absl::UnknownError(absl::StrCat("cannot create ", dir, ": ", error.message()));
  for (const ManPage& page : ManPages(app, version)) {
    const std::string path = (std::filesystem::path(dir) / page.file_name).string();
    std::ofstream out(path, std::ios::trunc);
    out << page.roff;
    out.close();
    if (!out)
      return absl::UnknownError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

std::string RoffEscape(const std::string& text) {
  std::string escaped;
  bool line_start = true;
  for (char c : text) {
    if (line_start && (c == '.' || c == '\'')) escaped += "\\&";
    if (c == '\\') {
      escaped += "\\e";
    } else {
      escaped += c;
    }
    line_start = c == '\n';
  }
  return escaped;
}

}  // namespace fleet::cli
