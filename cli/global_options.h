// The flags every fleetctl command takes, wherever they appear on the command line.
#ifndef FLEETD_CLI_GLOBAL_OPTIONS_H_
#define FLEETD_CLI_GLOBAL_OPTIONS_H_

#include <string>

#include "CLI/CLI.hpp"
#include "cli/output.h"

namespace fleet::cli {

inline constexpr char kDefaultAddress[] = "127.0.0.1:8221";

struct GlobalOptions {
  std::string address = kDefaultAddress;  // fleetd's admin address
  OutputFormat output = OutputFormat::kTable;
};

// Adds --address (env FLEETCTL_ADDRESS) and -o/--output to `app`, parsed into `*options`, which
// must outlive the parse. Call before adding subcommands: it also lets the subcommands accept
// these flags after their own name ("fleetctl version -o json").
void AddGlobalOptions(CLI::App& app, GlobalOptions* options);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_GLOBAL_OPTIONS_H_
