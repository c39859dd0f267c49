// fleetctl's config file, kubectl style: named contexts (a fleetd address and the path of an
// admin token file) and the current context's name. The file never holds a token itself.
//
//   current-context: prod
//   contexts:
//   - name: prod
//     address: fleetd.example.com:8221
//     token-file: /home/me/.fleet/prod.token
#ifndef FLEETD_CLI_CONFIG_STORE_H_
#define FLEETD_CLI_CONFIG_STORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cli/environment.h"

namespace fleet::cli {

struct Context {
  std::string name;
  std::string address;     // HOST:PORT of fleetd's admin API; may be empty
  std::string token_file;  // absolute path; may be empty
};

struct Config {
  std::string current_context;  // empty: none
  std::vector<Context> contexts;

  // The context called `name`, or nullptr. The pointer lives until `contexts` changes.
  const Context* Find(const std::string& name) const;
  // Replaces the context with `context.name`, or appends it.
  void Upsert(const Context& context);
};

// $XDG_CONFIG_HOME/fleetctl/config.yaml, else $HOME/.config/fleetctl/config.yaml.
// FAILED_PRECONDITION when neither variable is set.
absl::StatusOr<std::string> ConfigPath(const Environment& env);

// Reads the config at `path`; an empty Config when the file does not exist. INVALID_ARGUMENT,
// naming the path (and line for YAML errors), for a malformed file; UNKNOWN for other I/O errors.
absl::StatusOr<Config> LoadConfig(const std::string& path);

// Writes `config` to `path` atomically (a temporary file in the same directory, renamed over
// it) with mode 0600, creating missing parent directories with mode 0700. UNKNOWN, naming the
// path and the system error, on failure; the old file is then unchanged.
absl::Status SaveConfig(const std::string& path, const Config& config);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_CONFIG_STORE_H_
