#include "cli/global_options.h"

#include <map>

namespace fleet::cli {

void AddGlobalOptions(CLI::App& app, GlobalOptions* options) {
  app.fallthrough();
  app.add_option("--address", options->address,
                 "The HOST:PORT of fleetd's admin API. Default: 127.0.0.1:8221, or the "
                 "FLEETCTL_ADDRESS environment variable when set. Example: --address "
                 "fleetd.example.com:8221")
      ->envname("FLEETCTL_ADDRESS")
      ->type_name("HOST:PORT");
  const std::map<std::string, OutputFormat> formats = {{"table", OutputFormat::kTable},
                                                       {"json", OutputFormat::kJson},
                                                       {"yaml", OutputFormat::kYaml}};
  app.add_option("-o,--output", options->output,
                 "How to print results: table (for people), json or yaml (for scripts). "
                 "Default: table. Example: -o json")
      ->type_name("FORMAT")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case).description(""));
}

}  // namespace fleet::cli
