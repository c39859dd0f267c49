#include "cli/global_options.h"

#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cli/duration.h"
#include "cli/flag_values.h"

namespace fleet::cli {

namespace {

// What ParseDuration accepts, and "0" for no deadline (kubectl's --request-timeout).
CLI::Validator TimeoutValidator() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        if (input == "0" || ParseDuration(input).ok()) return "";
        return "\"" + input + "\": want a duration such as 30s, 2m or 1m30s, or 0 for no limit";
      },
      "");
}

}  // namespace

absl::Duration RequestTimeout(const GlobalOptions& options) {
  if (options.request_timeout == "0") return absl::InfiniteDuration();
  absl::StatusOr<absl::Duration> timeout = ParseDuration(options.request_timeout);
  return timeout.ok() ? *timeout : absl::Seconds(10);
}

void AddGlobalOptions(CLI::App& app, GlobalOptions* options) {
  app.fallthrough();
  app.add_option("--context", options->context,
                 "The context of the config file to use instead of the current one. Default: "
                 "the FLEETCTL_CONTEXT environment variable, else the config's current-context.")
      ->type_name("NAME");
  app.add_option("--address", options->address,
                 "The HOST:PORT of fleetd's admin API, or several replicas' as IP:PORT,IP:PORT "
                 "(tried in order; one that cannot be reached is skipped). Default: the "
                 "FLEETCTL_ADDRESS environment variable, else the context's address, else "
                 "127.0.0.1:8221. Example: --address fleetd.example.com:8221")
      ->type_name("HOST:PORT");
  app.add_option("--token-file", options->token_file,
                 "A file holding the admin token to authenticate with. Default: the "
                 "FLEETCTL_TOKEN_FILE environment variable, else the context's token file.")
      ->type_name("FILE");
  app.add_option("--certificate-authority", options->tls.certificate_authority,
                 "A PEM CA bundle that fleetd's certificate must chain to; turns TLS on. "
                 "Default: the context's, else the system's roots when TLS is on. Example: "
                 "--certificate-authority ca.pem")
      ->type_name("FILE");
  app.add_option("--client-certificate", options->tls.client_certificate,
                 "A PEM certificate to present to a fleetd that asks admin clients for one "
                 "(--admin-client-ca); needs --client-key. Turns TLS on.")
      ->type_name("FILE");
  app.add_option("--client-key", options->tls.client_key,
                 "The private key (PEM) of --client-certificate.")
      ->type_name("FILE");
  app.add_option("--tls-server-name", options->tls.server_name,
                 "The name fleetd's certificate must hold, when it is not the host of --address "
                 "(e.g. an IP address). Turns TLS on. Example: --tls-server-name "
                 "fleetd.example.com")
      ->type_name("NAME");
  app.add_flag("--insecure-skip-tls-verify", options->tls.insecure_skip_verify,
               "Speak TLS but accept any certificate fleetd presents: anyone on the path can "
               "then read the admin token. For throw-away test servers only.");
  const std::map<std::string, std::pair<OutputFormat, TableStyle>> formats = {
      {"table", {OutputFormat::kTable, TableStyle::kNormal}},
      {"wide", {OutputFormat::kTable, TableStyle::kWide}},
      {"name", {OutputFormat::kTable, TableStyle::kName}},
      {"json", {OutputFormat::kJson, TableStyle::kNormal}},
      {"yaml", {OutputFormat::kYaml, TableStyle::kNormal}}};
  app.add_option_function<std::string>(
         "-o,--output",
         [options, formats](const std::string& name) {
           std::tie(options->output, options->table_style) =
               formats.at(absl::AsciiStrToLower(name));
         },
         "How to print results: table (for people), wide (get: a table with more columns), "
         "name (get: KIND/NAME lines), json or yaml (for scripts). Default: table. Example: "
         "-o json")
      ->type_name("table|wide|name|json|yaml")
      ->check(CLI::Validator(
          [formats](const std::string& value) -> std::string {
            if (formats.contains(absl::AsciiStrToLower(value))) return "";
            return absl::StrCat("\"", value, "\": want ",
                                AlternativesText({"table", "wide", "name", "json", "yaml"}));
          },
          ""));
  app.add_option("--request-timeout", options->request_timeout,
                 "How long fleetctl waits for each answer from fleetd before it gives up (exit "
                 "5); 0 waits forever. Watches (rollout status --watch) keep their own "
                 "--timeout. Default: 10s. Example: --request-timeout 30s")
      ->type_name("DURATION")
      ->check(TimeoutValidator());
}

}  // namespace fleet::cli
