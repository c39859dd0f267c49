// Manual pages in roff (man(7)) generated from fleetctl's CLI11 command tree, one per command,
// as `fleetctl docs man DIR` writes them: a command added to the tree gets its page, and every
// page says what --help says.
#ifndef FLEETD_CLI_MAN_PAGE_H_
#define FLEETD_CLI_MAN_PAGE_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"

namespace fleet::cli {

struct ManPage {
  std::string file_name;  // "fleetctl.1", "fleetctl-get.1", "fleetctl-get-policies.1", ...
  std::string roff;
};

// A page for `app` and one for each command below it, hidden ones (CLI11 group "") excepted,
// parents before children. Each has NAME (the command's path and the first sentence of its
// description), SYNOPSIS, DESCRIPTION (with its aliases), COMMANDS (its subcommands), ARGUMENTS,
// FLAGS, GLOBAL FLAGS (`app`'s, on every page but its own), NOTES (the command's CLI11 footer, e.g.
// the environment and exit codes on fleetctl.1, or examples attached to a command's footer) and
// SEE ALSO (its parent and subcommands). `version` goes in the page footer.
std::vector<ManPage> ManPages(const CLI::App& app, const std::string& version);

// Writes ManPages into `dir` (created if missing, with its parents), replacing pages of the same
// names. UNKNOWN, naming the file and the system error, on failure.
absl::Status WriteManPages(const CLI::App& app, const std::string& version, const std::string& dir);

// `text` escaped for roff: backslashes doubled as \e, and a line that would start with "." or
// "'" (a request) prefixed with \&.
std::string RoffEscape(const std::string& text);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_MAN_PAGE_H_
