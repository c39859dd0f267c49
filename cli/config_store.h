// fleetctl's config file, kubectl style: named contexts (a fleetd address, the path of an
// admin token file and how to reach it over TLS) and the current context's name. The file never
// holds a token or a key itself, only their paths.
//
//   current-context: prod
//   contexts:
//   - name: prod
//     address: fleetd.example.com:8221
//     token-file: /home/me/.fleet/prod.token
//     certificate-authority: /home/me/.fleet/prod-ca.pem
//     client-certificate: /home/me/.fleet/me.pem
//     client-key: /home/me/.fleet/me-key.pem
//     tls-server-name: fleetd.example.com
//     insecure-skip-tls-verify: false
#ifndef FLEETD_CLI_CONFIG_STORE_H_
#define FLEETD_CLI_CONFIG_STORE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cli/environment.h"

namespace fleet::cli {

// How fleetctl secures its connection (the flags of the same names); each field may be empty.
// fleetctl speaks TLS when any is set, plaintext otherwise.
struct TlsSettings {
  std::string certificate_authority;  // PEM CA bundle fleetd's certificate must chain to
  std::string client_certificate;     // PEM, for a fleetd with --admin-client-ca
  std::string client_key;
  std::string server_name;  // the name fleetd's certificate must hold, instead of the host
  bool insecure_skip_verify = false;

  bool enabled() const {
    return !certificate_authority.empty() || !client_certificate.empty() || !client_key.empty() ||
           !server_name.empty() || insecure_skip_verify;
  }
};

struct Context {
  std::string name;
  std::string address;     // HOST:PORT of fleetd's admin API; may be empty
  std::string token_file;  // absolute path; may be empty
  TlsSettings tls;         // absolute paths
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
