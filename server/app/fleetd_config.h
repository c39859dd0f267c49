// fleetd's configuration, as its flags give it, and its validation: everything is checked
// before anything is acquired, so that a bad value creates no data dir, takes no lock and opens
// no store.
#ifndef FLEETD_SERVER_APP_FLEETD_CONFIG_H_
#define FLEETD_SERVER_APP_FLEETD_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rpc/tls_credentials.h"
#include "server/app/listen_address.h"
#include "storage/open/open_store.h"

namespace fleet::server {

struct FleetdConfig {
  // Holds the lock file, the bootstrap admin token and (by default) the store; created with
  // mode 0700 when missing.
  std::string data_dir = "fleetd-data";
  // The store (--store): rocksdb:DIR, memory: or etcd://HOST:PORT[,...]; empty means
  // rocksdb:DATA_DIR/store.
  std::string store;
  // For --store etcd://...: TLS files for the connection to etcd (--etcd-ca, --etcd-cert,
  // --etcd-key), the fleet's key prefix (--etcd-prefix) and the cluster's limits
  // (--etcd-max-txn-ops, --etcd-max-request-bytes); the endpoints come from --store
  // (storage/open/open_store.h).
  storage::EtcdSpec etcd;
  // HOST:PORT for the admin API (--admin-addr); port 0 picks a free port.
  std::string admin_addr = "127.0.0.1:8221";
  // HOST:PORT for agents (--agent-addr); port 0 picks a free port.
  std::string agent_addr = "127.0.0.1:8220";
  // How many revisions of each policy are kept (--policy-history).
  int64_t policy_history = 100;
  // How often agents heartbeat (--heartbeat-interval); three missed ones make one offline.
  absl::Duration heartbeat_interval = absl::Seconds(30);
  // How long an agent connection may live before fleetd asks it to reconnect
  // (--max-connection-age), so that load balancers can spread agents over replicas.
  absl::Duration max_connection_age = absl::Minutes(30);
  // How many of the newest store revisions the log keeps (--revision-retention); watchers and
  // agents resuming from older ones re-list or get FULL documents.
  int64_t revision_retention = 100'000;
  // The most memory the policy engine's parsed revisions may take (--revision-cache-bytes);
  // each policy's latest revision stays cached whatever the bound.
  int64_t revision_cache_bytes = int64_t{256} << 20;
  // Agents' secrets at least this old are rotated on their streams (--credential-max-age); zero
  // for never (only operators' requests rotate them).
  absl::Duration credential_max_age = absl::ZeroDuration();
  // Live queries' limits (--max-concurrent-queries, --query-max-rows-per-agent,
  // --query-max-bytes): queries running at once, rows kept of one agent's answer, bytes of
  // results one query holds that its caller has not read yet.
  int64_t max_concurrent_queries = 500;
  int64_t query_max_rows_per_agent = 10'000;
  int64_t query_max_bytes = int64_t{64} << 20;

  // TLS (--tls-cert, --tls-key): the certificate chain and private key files (PEM) both gRPC
  // listeners and the HTTP endpoint serve, re-read when they change; empty for plaintext.
  std::string tls_cert_file;
  std::string tls_key_file;
  // A pair for one listener instead (--admin-tls-cert/--admin-tls-key,
  // --agent-tls-cert/--agent-tls-key); empty to use --tls-cert/--tls-key.
  std::string admin_tls_cert_file;
  std::string admin_tls_key_file;
  std::string agent_tls_cert_file;
  std::string agent_tls_key_file;
  // mTLS for agents (--agent-client-ca, --agent-client-auth): the CA bundle agent certificates
  // must chain to, and whether agents must present one ("none", "optional", "required"; empty
  // means "required" with a CA and "none" without).
  std::string agent_client_ca_file;
  std::string agent_client_auth;
  // mTLS for admin clients (--admin-client-ca): when set, every admin connection must present a
  // certificate this CA signed (and still an admin token).
  std::string admin_client_ca_file;
  // Serve plaintext on addresses that are not loopback (--insecure-plaintext), with a warning;
  // otherwise refused, since tokens and agent secrets would cross the network readable.
  bool insecure_plaintext = false;
  // HOST:PORT of the HTTP endpoint for health checks and metrics (--http-addr); empty for none.
  std::string http_addr = "127.0.0.1:8222";
};

// A configuration that passed ValidateConfig, with its parsed parts.
struct ValidConfig {
  FleetdConfig config;
  ListenAddress admin;
  ListenAddress agent;
  std::optional<ListenAddress> http;  // none when http_addr is empty
  storage::StoreSpec store;
  // Each listener's TLS, with files that loaded; nullopt for plaintext.
  std::optional<rpc::ServerTlsOptions> admin_tls;
  std::optional<rpc::ServerTlsOptions> agent_tls;
  // What the operator should hear at start (plaintext allowed off loopback by
  // --insecure-plaintext).
  std::vector<std::string> warnings;
};

// Checks every field. INVALID_ARGUMENT naming the flag and the accepted values: a malformed
// address, the same address twice (of --admin-addr, --agent-addr and --http-addr), a store spec
// that does not parse, or a number or duration out of range; a certificate without its key (or
// a key without its certificate), a TLS file that cannot be read or does not hold what it
// should, a key that is not the certificate's; a client CA or --agent-client-auth on a listener
// without TLS or without each other; a listener without TLS on an address that is not loopback,
// unless insecure_plaintext.
absl::StatusOr<ValidConfig> ValidateConfig(const FleetdConfig& config);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_APP_FLEETD_CONFIG_H_
