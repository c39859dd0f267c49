// The environment variables fleetctl reads, captured once so that the code deciding between
// flags, variables and the config file can be tested without touching the process environment.
#ifndef FLEETD_CLI_ENVIRONMENT_H_
#define FLEETD_CLI_ENVIRONMENT_H_

#include <cstdlib>
#include <string>

namespace fleet::cli {

// Each field is empty when its variable is unset or empty.
struct Environment {
  std::string home;             // HOME
  std::string xdg_config_home;  // XDG_CONFIG_HOME
  std::string context;          // FLEETCTL_CONTEXT: the context to use instead of the current one
  std::string address;          // FLEETCTL_ADDRESS: overrides the context's address
  std::string token_file;       // FLEETCTL_TOKEN_FILE: overrides the context's token file

  // This process's environment.
  static Environment FromProcess() {
    auto get = [](const char* name) {
      const char* value = std::getenv(name);
      return std::string(value == nullptr ? "" : value);
    };
    return Environment{.home = get("HOME"),
                       .xdg_config_home = get("XDG_CONFIG_HOME"),
                       .context = get("FLEETCTL_CONTEXT"),
                       .address = get("FLEETCTL_ADDRESS"),
                       .token_file = get("FLEETCTL_TOKEN_FILE")};
  }
};

}  // namespace fleet::cli

#endif  // FLEETD_CLI_ENVIRONMENT_H_
