// The -l/--selector flag of the commands that pick agents or policies by their labels. fleetctl
// passes the selector through: fleetd parses it (server/model/label_selector.h), and a selector
// it refuses is a usage error (exit 2, exit_codes.h).
#ifndef FLEETD_CLI_SELECTOR_FLAG_H_
#define FLEETD_CLI_SELECTOR_FLAG_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace fleet::cli {

// Adds --selector,-l SELECTOR to `command`, repeatable, parsed into `*selectors` (which must
// outlive the parse and the run); `what` says what it selects, e.g. "Only agents".
CLI::Option* AddSelectorOption(CLI::App* command, std::vector<std::string>* selectors,
                               const std::string& what);

// The repeated flag's values as one selector: each must hold.
std::string JoinSelectors(const std::vector<std::string>& selectors);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_SELECTOR_FLAG_H_
