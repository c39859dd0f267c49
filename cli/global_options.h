// The flags every fleetctl command takes, wherever they appear on the command line.
#ifndef FLEETD_CLI_GLOBAL_OPTIONS_H_
#define FLEETD_CLI_GLOBAL_OPTIONS_H_

#include <string>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "cli/config_store.h"
#include "cli/output.h"

namespace fleet::cli {

// The flags as given; an empty string means "not given" (see connection.h for what applies
// then).
struct GlobalOptions {
  std::string context;     // --context: a context of the config file
  std::string address;     // --address: fleetd's admin HOST:PORT
  std::string token_file;  // --token-file: a file holding an admin token
  // --certificate-authority, --client-certificate, --client-key, --tls-server-name,
  // --insecure-skip-tls-verify; paths as given.
  TlsSettings tls;
  // -o/--output: wide and name are kTable here, with their style in table_style.
  OutputFormat output = OutputFormat::kTable;
  // --request-timeout: the deadline of each unary RPC, a duration or "0" for none.
  std::string request_timeout = "10s";
  TableStyle table_style = TableStyle::kNormal;
};

// --request-timeout as a duration; absl::InfiniteDuration() for "0". Valid once parsed.
absl::Duration RequestTimeout(const GlobalOptions& options);

// Adds --context, --address, --token-file, the TLS flags, -o/--output and --request-timeout to
// `app`, parsed into `*options`, which must outlive the parse. Call before adding subcommands: it
// also lets the subcommands accept these flags after their own name ("fleetctl version -o json").
void AddGlobalOptions(CLI::App& app, GlobalOptions* options);

}  // namespace fleet::cli

#endif  // FLEETD_CLI_GLOBAL_OPTIONS_H_
