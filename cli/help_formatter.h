// fleetctl's help text: CLI11's, plus the global flags under every command (CLI11 hides a
// parent's flags in a subcommand's help although the subcommand takes them) and the examples
// given with SetExamples (command.h).
#ifndef FLEETD_CLI_HELP_FORMATTER_H_
#define FLEETD_CLI_HELP_FORMATTER_H_

#include <map>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace fleet::cli {

// The width help text is wrapped to.
inline constexpr size_t kHelpWidth = 100;

// Set on the root app before adding commands, so that every command shares it. Not thread-safe:
// examples are added while the command tree is built, before any help is printed.
class HelpFormatter : public CLI::Formatter {
 public:
  // Shows `examples` (each a command line, or a "# comment" line followed by one) in the help of
  // `command`, which must outlive this formatter's use.
  void SetExamples(const CLI::App* command, std::vector<std::string> examples);
  // What SetExamples gave `command`; none when it gave none.
  std::vector<std::string> Examples(const CLI::App* command) const;

  std::string make_help(const CLI::App* app, std::string name,
                        CLI::AppFormatMode mode) const override;
  // Descriptions wrapped to fit kHelpWidth columns, continued under their column.
  std::string make_description(const CLI::App* app) const override;
  std::string make_option_desc(const CLI::Option* option) const override;
  std::string make_subcommand(const CLI::App* sub) const override;

 private:
  std::string MakeGlobalFlags(const CLI::App& app) const;
  std::string MakeExamples(const CLI::App& app) const;

  std::map<const CLI::App*, std::vector<std::string>> examples_;
};

}  // namespace fleet::cli

#endif  // FLEETD_CLI_HELP_FORMATTER_H_
