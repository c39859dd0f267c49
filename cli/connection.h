// Which fleetd to talk to, how (TLS) and with which admin token: the flags, then the
// environment, then the config file's context, then the defaults.
#ifndef FLEETD_CLI_CONNECTION_H_
#define FLEETD_CLI_CONNECTION_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "cli/config_store.h"
#include "cli/environment.h"
#include "cli/global_options.h"
#include "rpc/tls_credentials.h"

namespace fleet::cli {

inline constexpr char kDefaultAddress[] = "127.0.0.1:8221";

struct Connection {
  std::string context;     // the context used; empty when none
  std::string address;     // never empty
  std::string token_file;  // empty when none is configured
  TlsSettings tls;         // TLS when enabled()
};

// The UsageError for a context `name` that the config does not have.
absl::Status UnknownContextError(const std::string& name);

// OK when `address` is HOST:PORT (IPv6 hosts in brackets), several IP:PORT of one family
// separated by commas (replicas; cli/address_list.h), or a gRPC "unix:" target; else a
// UsageError (exit_codes.h) saying what is wrong: a scheme such as "http://", no port, a port
// that is not 1 to 65535. `source` names where the address came from, e.g. "--address".
absl::Status CheckAddress(const std::string& address, const std::string& source);

// Resolves the context (--context, else FLEETCTL_CONTEXT, else config.current_context), then the
// address (--address, FLEETCTL_ADDRESS, the context's, kDefaultAddress) and the token file
// (--token-file, FLEETCTL_TOKEN_FILE, the context's). A UsageError when a context is named by
// the flag, the variable or current-context but is not in `config`, or the address fails
// CheckAddress. Each TLS setting is the
// flag's, else the context's (--insecure-skip-tls-verify: either).
absl::StatusOr<Connection> ResolveConnection(const GlobalOptions& flags, const Environment& env,
                                             const Config& config);

// The admin token in `connection.token_file`: the file's content without one trailing "\n" (or
// "\r\n"), which must then be one non-empty line of printable ASCII (AdminClient::
// IsSendableToken). UNAUTHENTICATED, saying how to log in, when no token file is configured, it
// is empty, or it holds anything else ("token file FILE: ..."; the message never quotes the
// content); UNKNOWN, naming the file and the system error, when it cannot be read.
absl::StatusOr<std::string> ReadToken(const Connection& connection);

// The client TLS options for `tls` (naming fleetctl's flags in errors), or nullopt for
// plaintext when none is set.
std::optional<rpc::ClientTlsOptions> ClientTls(const TlsSettings& tls);

// The TLS settings with their paths made absolute (AbsolutePath), as a context stores them.
TlsSettings AbsoluteTlsPaths(TlsSettings tls);

// `path` made absolute against the working directory (unchanged when it already is, or empty).
std::string AbsolutePath(const std::string& path);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_CONNECTION_H_
