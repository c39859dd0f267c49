// fleetd: parses flags, starts the FleetdServer and stops it on SIGTERM or SIGINT.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/fd_limit.h"
#include "common/log_format.h"
#include "rpc/grpc_logging.h"
#include "server/app/config_file.h"
#include "server/app/fleetd_config.h"
#include "server/app/fleetd_server.h"
#include "server/app/sd_notify.h"
#include "spdlog/spdlog.h"

namespace {

// How long calls in flight may take to finish after SIGTERM before they are cancelled.
constexpr absl::Duration kShutdownGrace = absl::Seconds(5);

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// The options that are no keys of the configuration file: the file itself, and printing it.
constexpr std::string_view kNotConfigKeys[] = {"config", "print-config"};

int Fail(const std::string& message, int exit_code = kExitError) {
  spdlog::error("{}", message);
  return exit_code;
}

// The --log-format the command line asks for, read before the flags are parsed so that an error
// in them is logged in that format too; text when there is none (or it is not valid).
fleet::LogFormat LogFormatOfArgs(int argc, char** argv) {
  constexpr std::string_view kFlag = "--log-format";
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::optional<fleet::LogFormat> format;
    if (arg == kFlag && i + 1 < argc) {
      format = fleet::ParseLogFormat(argv[i + 1]);
    } else if (arg.starts_with(kFlag) && arg.substr(kFlag.size()).starts_with("=")) {
      format = fleet::ParseLogFormat(arg.substr(kFlag.size() + 1));
    }
    if (format.has_value()) return *format;
  }
  return fleet::LogFormat::kText;
}

// Tells systemd (when it runs fleetd) of `state`; a failure only costs a warning.
void Notify(std::string_view state) {
  if (absl::Status sent = fleet::server::SdNotify(state); !sent.ok()) {
    spdlog::warn("{}", std::string(sent.message()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Debian's abseil is built with mutex deadlock detection on, which keeps a global lock graph
  // and takes a global lock on every Mutex operation: correctness tooling that tests keep, and
  // that a server (or a benchmark) pays for on every lock.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  fleet::SetUpStderrLog(LogFormatOfArgs(argc, argv), spdlog::level::info);
  fleet::server::FleetdConfig config;
  std::string log_level = "info";
  std::string log_format = "text";
  std::string config_file;
  bool print_config = false;

  CLI::App app{
      "fleetd is the control plane for a fleet of endpoint agents. It keeps its state in an "
      "embedded store in its data directory, serves the admin API for fleetctl on one address "
      "and the agent API on another, and stops gracefully on SIGTERM or SIGINT.",
      "fleetd"};
  app.set_version_flag("--version", "fleetd " FLEETD_VERSION, "Print fleetd's version and exit.");
  app.add_option("--data-dir", config.data_dir,
                 "The directory that holds fleetd's store and lock file. It is created with "
                 "mode 0700 if missing, and only one fleetd may use it at a time. Default: "
                 "\"fleetd-data\" in the working directory. Example: --data-dir /var/lib/fleetd")
      ->type_name("DIR");
  app.add_option("--store", config.store,
                 "Where fleetd keeps its state: rocksdb:DIR (durable, embedded), memory: (gone "
                 "when fleetd stops; for tests and demos) or etcd://HOST:PORT[,HOST:PORT...] (an "
                 "etcd cluster that several fleetd replicas share; calls fail over between the "
                 "endpoints). Default: rocksdb:DATA_DIR/store. Example: --store "
                 "etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379")
      ->type_name("SPEC");
  app.add_option("--etcd-ca", config.etcd.ca_file,
                 "With an etcd store: the CA certificates (PEM) etcd's server certificate is "
                 "checked against; turns on TLS to etcd. Default: none (plaintext). Example: "
                 "--etcd-ca /etc/fleetd/etcd-ca.pem")
      ->type_name("FILE");
  app.add_option("--etcd-cert", config.etcd.cert_file,
                 "With an etcd store: the client certificate (PEM) fleetd presents to etcd; needs "
                 "--etcd-key. Default: none. Example: --etcd-cert /etc/fleetd/etcd-client.pem")
      ->type_name("FILE");
  app.add_option("--etcd-key", config.etcd.key_file,
                 "With an etcd store: the private key (PEM) of --etcd-cert. Default: none. "
                 "Example: --etcd-key /etc/fleetd/etcd-client-key.pem")
      ->type_name("FILE");
  app.add_option("--etcd-prefix", config.etcd.key_prefix,
                 "With an etcd store: the key prefix this fleet's keys live under, so several "
                 "fleets can share one cluster. Every replica of a fleet must use the same one. "
                 "Default: /fleetd/. Example: --etcd-prefix /fleets/production/")
      ->type_name("PREFIX");
  app.add_option("--etcd-max-txn-ops", config.etcd.max_txn_ops,
                 "With an etcd store: the cluster's --max-txn-ops. fleetd refuses a transaction "
                 "with more ops rather than split it, and writes agent state in batches of at "
                 "most this many keys. Default: 128 (etcd's default). Example: "
                 "--etcd-max-txn-ops 1024")
      ->type_name("N")
      ->check(CLI::Range(size_t{16}, size_t{100'000}));
  app.add_option("--etcd-max-request-bytes", config.etcd.max_request_bytes,
                 "With an etcd store: the cluster's --max-request-bytes; fleetd keeps every "
                 "request under it. Default: 1572864 (etcd's default). Example: "
                 "--etcd-max-request-bytes 10485760")
      ->type_name("BYTES")
      ->check(CLI::Range(size_t{64} << 10, size_t{64} << 20));
  app.add_option("--admin-addr", config.admin_addr,
                 "The HOST:PORT the admin API (used by fleetctl and automation) listens on. "
                 "Port 0 picks a free port, which the \"fleetd listening\" log line reports. "
                 "Default: 127.0.0.1:8221. Example: --admin-addr 0.0.0.0:8221")
      ->type_name("HOST:PORT");
  app.add_option("--agent-addr", config.agent_addr,
                 "The HOST:PORT agents connect to. Port 0 picks a free port, which the \"fleetd "
                 "listening\" log line reports. Default: 127.0.0.1:8220. Example: --agent-addr "
                 "0.0.0.0:8220")
      ->type_name("HOST:PORT");
  app.add_option("--policy-history", config.policy_history,
                 "How many revisions of each policy fleetd keeps for history, diff and rollback; "
                 "older ones are pruned as new ones are committed. At least 1. Default: 100. "
                 "Example: --policy-history 500")
      ->type_name("N")
      ->check(CLI::PositiveNumber);
  app.add_option("--revision-retention", config.revision_retention,
                 "How many of the newest store revisions the revision log keeps; older ones are "
                 "compacted every minute, and a watcher that falls further behind lists again. "
                 "Policy history is kept apart (--policy-history). At least 1000. Default: "
                 "100000. Example: --revision-retention 1000000")
      ->type_name("N");
  app.add_option("--revision-cache-bytes", config.revision_cache_bytes,
                 "How much memory the parsed policy revisions fleetd keeps for computing deltas "
                 "may take, in bytes; the least recently used old revisions go first, and each "
                 "policy's latest revision always stays. Default: 268435456 (256 MiB). Example: "
                 "--revision-cache-bytes 1073741824")
      ->type_name("BYTES");
  app.add_option(
         "--http-addr", config.http_addr,
         "The HOST:PORT of the HTTP endpoint for load balancers and Prometheus: /healthz, "
         "/readyz (?verbose) and /metrics, over HTTPS with the admin listener's certificate "
         "when it has TLS. Port 0 picks a free port, which the \"fleetd listening\" log line "
         "reports; "
         "empty turns the endpoint off. Default: 127.0.0.1:8222. Example: --http-addr "
         "0.0.0.0:8222")
      ->type_name("HOST:PORT");
  std::string heartbeat_interval = "30s";
  std::string max_connection_age = "30m";
  app.add_option("--heartbeat-interval", heartbeat_interval,
                 "How often agents are asked to send a heartbeat; an agent that misses three "
                 "counts as offline. Go-style duration, at least 1s. Default: 30s. Example: "
                 "--heartbeat-interval 10s")
      ->type_name("DURATION");
  app.add_option("--max-connection-age", max_connection_age,
                 "How long an agent connection may live before fleetd asks the agent to "
                 "reconnect (with +-10% jitter), so that load balancers can rebalance agents over "
                 "replicas. Between 1m and 480h. Default: 30m. Example: --max-connection-age 2h")
      ->type_name("DURATION");
  // TLS and mTLS (docs/tls.md).
  app.add_option("--tls-cert", config.tls_cert_file,
                 "The certificate chain (PEM, leaf first) both listeners serve TLS with; fleetd "
                 "re-reads it every 2 s, so a replaced file serves new connections without a "
                 "restart. Needs --tls-key. Default: none (plaintext, allowed on loopback only). "
                 "Example: --tls-cert /etc/fleetd/tls/server.pem")
      ->type_name("FILE");
  app.add_option("--tls-key", config.tls_key_file,
                 "The private key (PEM, unencrypted) of --tls-cert. Example: --tls-key "
                 "/etc/fleetd/tls/server-key.pem")
      ->type_name("FILE");
  app.add_option("--admin-tls-cert", config.admin_tls_cert_file,
                 "A certificate chain for the admin listener instead of --tls-cert. Needs "
                 "--admin-tls-key.")
      ->type_name("FILE");
  app.add_option("--admin-tls-key", config.admin_tls_key_file,
                 "The private key of --admin-tls-cert.")
      ->type_name("FILE");
  app.add_option("--agent-tls-cert", config.agent_tls_cert_file,
                 "A certificate chain for the agent listener instead of --tls-cert. Needs "
                 "--agent-tls-key.")
      ->type_name("FILE");
  app.add_option("--agent-tls-key", config.agent_tls_key_file,
                 "The private key of --agent-tls-cert.")
      ->type_name("FILE");
  app.add_option("--agent-client-ca", config.agent_client_ca_file,
                 "mTLS for agents: the CA bundle (PEM) agent certificates must chain to. An agent "
                 "that presents a certificate must be the agent it names (URI SAN "
                 "fleet://agent/ID, else the CN). Needs TLS on the agent listener. Example: "
                 "--agent-client-ca /etc/fleetd/tls/agents-ca.pem")
      ->type_name("FILE");
  app.add_option("--agent-client-auth", config.agent_client_auth,
                 "Whether agents must present a certificate: none, optional (checked when "
                 "presented) or required. Default: required with --agent-client-ca, else none. "
                 "Example: --agent-client-auth optional")
      ->type_name("MODE")
      ->check(CLI::IsMember({"none", "optional", "required"}));
  app.add_option("--admin-client-ca", config.admin_client_ca_file,
                 "mTLS for admin clients: every admin connection must present a certificate "
                 "this CA bundle (PEM) signed, besides its admin token. Needs TLS on the admin "
                 "listener. Example: --admin-client-ca /etc/fleetd/tls/admins-ca.pem")
      ->type_name("FILE");
  app.add_flag("--insecure-plaintext", config.insecure_plaintext,
               "Allow a listener without TLS on an address that is not loopback (refused "
               "otherwise); fleetd warns at start. Admin tokens and agent secrets then cross the "
               "network readable: only behind a proxy that terminates TLS, or in a lab.");
  app.add_option("--log-level", log_level,
                 "The least severe log messages to write to stderr: trace, debug, info, warn or "
                 "error. Default: info. Example: --log-level debug")
      ->type_name("LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_option("--log-format", log_format,
                 "How log lines look on stderr: text (for people) or json (one object per line "
                 "with time, level, msg and the line's fields, for log collectors; see "
                 "docs/operations.md). Default: text. Example: --log-format json")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_option("--config", config_file,
                 "A YAML file of settings: each key is a flag's name without the dashes "
                 "(admin-addr: 0.0.0.0:8221); flags given on the command line override it. "
                 "Default: none. Example: --config /etc/fleetd/fleetd.yaml")
      ->type_name("FILE");
  app.add_flag("--print-config", print_config,
               "Print the effective configuration (the file's and the flags' settings, and the "
               "defaults of the rest) as YAML that --config reads, and exit.");

  // Credential rotation (docs/agent-credentials.md).
  std::string credential_max_age = "0";
  app.add_option("--credential-max-age", credential_max_age,
                 "Rotate an agent's secret on its stream once it is this old (agents offline then "
                 "rotate when they reconnect). 0 for never (only `fleetctl agent "
                 "rotate-credentials` rotates); otherwise at least 1m. Default: 0. Example: "
                 "--credential-max-age 720h")
      ->type_name("DURATION");
  // Live queries (docs/actions.md).
  app.add_option("--max-concurrent-queries", config.max_concurrent_queries,
                 "How many live queries (fleetctl query) may run at once; one more is refused "
                 "with RESOURCE_EXHAUSTED until one ends. At least 1. Default: 500. Example: "
                 "--max-concurrent-queries 100")
      ->type_name("N");
  app.add_option("--query-max-rows-per-agent", config.query_max_rows_per_agent,
                 "How many rows of one agent's answer to a live query are kept; the rest are cut "
                 "and the result marked truncated. At least 1. Default: 10000. Example: "
                 "--query-max-rows-per-agent 1000")
      ->type_name("N");
  app.add_option("--query-max-bytes", config.query_max_bytes,
                 "How many bytes of results one live query may hold that its caller has not read "
                 "yet; beyond, results lose their rows and are marked truncated, so that a slow "
                 "caller costs bounded memory. At least 1024. Default: 67108864 (64 MiB). "
                 "Example: --query-max-bytes 16777216")
      ->type_name("BYTES");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and --version exit 0; CLI11's own codes for usage errors are 100 and up.
    if (e.get_exit_code() == 0) return app.exit(e);
    return Fail(absl::StrCat(e.what(), "; see fleetd --help"), kExitUsage);
  }
  const fleet::server::ConfigKeys config_keys{.excluded = kNotConfigKeys};
  if (!config_file.empty()) {
    if (absl::Status loaded = fleet::server::ApplyConfigFile(app, config_file, config_keys);
        !loaded.ok()) {
      return Fail(std::string(loaded.message()), kExitUsage);
    }
  }
  fleet::SetUpStderrLog(*fleet::ParseLogFormat(log_format), spdlog::level::from_str(log_level));
  if (print_config) {
    std::fputs(fleet::server::EffectiveConfigYaml(app, config_keys).c_str(), stdout);
    return 0;
  }

  // absl's duration syntax is Go's (30s, 5m, 1h30m).
  if (!absl::ParseDuration(heartbeat_interval, &config.heartbeat_interval) ||
      !absl::ParseDuration(max_connection_age, &config.max_connection_age)) {
    return Fail(
        "--heartbeat-interval and --max-connection-age take durations such as 30s, 5m or 1h30m",
        kExitUsage);
  }
  if (!absl::ParseDuration(credential_max_age, &config.credential_max_age)) {
    return Fail("--credential-max-age takes a duration such as 720h, or 0", kExitUsage);
  }
  // Everything is checked before anything is acquired: a bad value creates no data dir, takes
  // no lock and opens no store.
  if (absl::StatusOr<fleet::server::ValidConfig> valid = fleet::server::ValidateConfig(config);
      !valid.ok()) {
    return Fail(std::string(valid.status().message()), kExitUsage);
  }
  fleet::rpc::RouteGrpcLogToSpdlog();

  // Blocked before any thread starts, so that every thread inherits the mask and the signals
  // reach only the sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  if (int rc = pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr); rc != 0) {
    return Fail(absl::StrCat("cannot block SIGTERM and SIGINT: ", std::strerror(rc)));
  }

  spdlog::info("fleetd {} starting", FLEETD_VERSION);
  // Each agent connection holds a descriptor: run with as many as the hard limit allows.
  if (absl::StatusOr<fleet::FdLimit> limit = fleet::RaiseFdLimit(); limit.ok()) {
    spdlog::info("open-file limit: {} (hard {})", limit->soft, limit->hard);
  } else {
    spdlog::warn("{}", std::string(limit.status().message()));
  }
  absl::StatusOr<std::unique_ptr<fleet::server::FleetdServer>> server =
      fleet::server::FleetdServer::Start(config);
  if (!server.ok()) return Fail(std::string(server.status().message()));
  if (!(*server)->bootstrap_token_file().empty()) {
    spdlog::warn(
        "no admin tokens existed: wrote a bootstrap admin token to {} (mode 0600); log in with "
        "`fleetctl login --address {} --token-file {}` and create your own tokens",
        (*server)->bootstrap_token_file(), (*server)->admin_address(),
        (*server)->bootstrap_token_file());
  }
  // Serving already; systemd hears of it before the log line that tests and scripts wait for.
  Notify("READY=1");
  spdlog::info("fleetd listening: admin={} agent={}{} data-dir={}", (*server)->admin_address(),
               (*server)->agent_address(),
               (*server)->http_address().empty() ? "" : " http=" + (*server)->http_address(),
               (*server)->data_dir());

  int signal_number = 0;
  if (int rc = sigwait(&stop_signals, &signal_number); rc != 0) {
    spdlog::error("sigwait failed: {}; shutting down", std::strerror(rc));
  } else {
    spdlog::info("fleetd received {}, shutting down (grace period {})",
                 signal_number == SIGTERM ? "SIGTERM" : "SIGINT",
                 absl::FormatDuration(kShutdownGrace));
  }
  Notify("STOPPING=1");
  (*server)->Shutdown(kShutdownGrace);
  server->reset();
  spdlog::info("fleetd stopped cleanly");
  return 0;
}
