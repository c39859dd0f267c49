#include "server/app/fleetd_config.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace fleet::server {
namespace {

// The pair one listener serves: its own (specific_*) when given, else the shared one; nullopt
// for none. Each pair must be whole.
absl::StatusOr<std::optional<std::pair<rpc::FlagFile, rpc::FlagFile>>> ListenerKeyPair(
    const rpc::FlagFile& specific_cert, const rpc::FlagFile& specific_key,
    const rpc::FlagFile& shared_cert, const rpc::FlagFile& shared_key) {
  if (absl::Status whole = rpc::CheckBothOrNeither(specific_cert, specific_key); !whole.ok()) {
    return whole;
  }
  if (absl::Status whole = rpc::CheckBothOrNeither(shared_cert, shared_key); !whole.ok()) {
    return whole;
  }
  if (!specific_cert.path.empty()) return std::pair(specific_cert, specific_key);
  if (!shared_cert.path.empty()) return std::pair(shared_cert, shared_key);
  return std::nullopt;
}

// One listener's TLS: its pair (checked to load), its client CA and client auth. `flag` and
// `address` name the listener; `pair` is what ListenerKeyPair chose.
absl::StatusOr<std::optional<rpc::ServerTlsOptions>> ListenerTls(
    const std::string& flag, const ListenAddress& address,
    const std::optional<std::pair<rpc::FlagFile, rpc::FlagFile>>& pair,
    const rpc::FlagFile& client_ca, rpc::ClientAuth client_auth, bool insecure_plaintext,
    std::vector<std::string>& warnings) {
  if (!pair.has_value()) {
    if (!client_ca.path.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          client_ca.flag, " needs TLS on ", flag, ": --tls-cert and --tls-key (or the ",
          flag == "--admin-addr" ? "--admin-tls-*" : "--agent-tls-*", " pair)"));
    }
    if (address.IsLoopback()) return std::nullopt;
    if (!insecure_plaintext) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, " ", address.ToString(),
          " is not a loopback address and has no TLS: tokens and agent secrets would cross the "
          "network readable. Pass --tls-cert FILE and --tls-key FILE, or --insecure-plaintext "
          "to serve plaintext anyway"));
    }
    warnings.push_back(absl::StrCat("serving ", flag, " ", address.ToString(),
                                    " in plaintext off loopback (--insecure-plaintext): admin "
                                    "tokens and agent secrets cross the network readable"));
    return std::nullopt;
  }
  if (absl::Status loads = rpc::CheckKeyPairFiles(pair->first, pair->second); !loads.ok()) {
    return loads;
  }
  if (!client_ca.path.empty()) {
    if (absl::Status loads = rpc::CheckCaFile(client_ca); !loads.ok()) return loads;
  }
  return rpc::ServerTlsOptions{.cert_file = pair->first.path,
                               .key_file = pair->second.path,
                               .client_ca_file = client_ca.path,
                               .client_auth = client_auth};
}

// --agent-client-auth as given, or its default: "required" with a CA, "none" without.
absl::StatusOr<rpc::ClientAuth> AgentClientAuth(const FleetdConfig& config) {
  const bool has_ca = !config.agent_client_ca_file.empty();
  if (config.agent_client_auth.empty()) {
    return has_ca ? rpc::ClientAuth::kRequired : rpc::ClientAuth::kNone;
  }
  absl::StatusOr<rpc::ClientAuth> auth =
      rpc::ParseClientAuth("--agent-client-auth", config.agent_client_auth);
  if (!auth.ok()) return auth.status();
  if (*auth != rpc::ClientAuth::kNone && !has_ca) {
    return absl::InvalidArgumentError(
        absl::StrCat("--agent-client-auth ", rpc::ClientAuthName(*auth),
                     " needs --agent-client-ca FILE, the CA agent certificates must chain to"));
  }
  if (*auth == rpc::ClientAuth::kNone && has_ca) {
    return absl::InvalidArgumentError(
        "--agent-client-ca has no effect with --agent-client-auth none; pass optional or "
        "required, or leave --agent-client-ca out");
  }
  return *auth;
}

// Checks the --etcd-* flags and puts them into `spec`: they go with an etcd:// store only.
absl::Status AddEtcdFlags(const FleetdConfig& config, storage::StoreSpec& spec) {
  const FleetdConfig defaults;
  const bool etcd = spec.backend == storage::StoreSpec::Backend::kEtcd;
  const std::pair<const char*, bool> given[] = {
      {"--etcd-ca", !config.etcd.ca_file.empty()},
      {"--etcd-cert", !config.etcd.cert_file.empty()},
      {"--etcd-key", !config.etcd.key_file.empty()},
      {"--etcd-prefix", config.etcd.key_prefix != defaults.etcd.key_prefix},
      {"--etcd-max-txn-ops", config.etcd.max_txn_ops != defaults.etcd.max_txn_ops},
      {"--etcd-max-request-bytes",
       config.etcd.max_request_bytes != defaults.etcd.max_request_bytes}};
  for (const auto& [flag, set] : given) {
    if (set && !etcd) {
      return absl::InvalidArgumentError(absl::StrCat(
          flag, " applies to an etcd store only; add --store etcd://HOST:PORT[,HOST:PORT...]"));
    }
  }
  if (!etcd) return absl::OkStatus();
  if (config.etcd.key_prefix.empty() || config.etcd.key_prefix.size() > 256) {
    return absl::InvalidArgumentError(
        "--etcd-prefix must be 1 to 256 bytes, e.g. /fleetd/ or /fleets/production/");
  }
  if (config.etcd.max_txn_ops < 16 || config.etcd.max_txn_ops > 100'000) {
    return absl::InvalidArgumentError(
        absl::StrCat("--etcd-max-txn-ops must be 16 to 100000, as etcd's --max-txn-ops (got ",
                     config.etcd.max_txn_ops, ")"));
  }
  if (config.etcd.max_request_bytes < 64 * 1024 || config.etcd.max_request_bytes > size_t{64}
                                                                                       << 20) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--etcd-max-request-bytes must be 65536 to 67108864, as etcd's --max-request-bytes (got ",
        config.etcd.max_request_bytes, ")"));
  }
  const rpc::FlagFile ca{.flag = "--etcd-ca", .path = config.etcd.ca_file};
  const rpc::FlagFile cert{.flag = "--etcd-cert", .path = config.etcd.cert_file};
  const rpc::FlagFile key{.flag = "--etcd-key", .path = config.etcd.key_file};
  if (absl::Status s = rpc::CheckBothOrNeither(cert, key); !s.ok()) return s;
  if (!ca.path.empty()) {
    if (absl::Status s = rpc::CheckCaFile(ca); !s.ok()) return s;
  }
  if (!cert.path.empty()) {
    if (absl::Status s = rpc::CheckKeyPairFiles(cert, key); !s.ok()) return s;
  }
  std::vector<std::string> endpoints = std::move(spec.etcd.endpoints);
  spec.etcd = config.etcd;
  spec.etcd.endpoints = std::move(endpoints);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ValidConfig> ValidateConfig(const FleetdConfig& config) {
  if (config.data_dir.empty()) return absl::InvalidArgumentError("--data-dir must not be empty");
  absl::StatusOr<ListenAddress> admin = ParseListenAddress("--admin-addr", config.admin_addr);
  if (!admin.ok()) return admin.status();
  absl::StatusOr<ListenAddress> agent = ParseListenAddress("--agent-addr", config.agent_addr);
  if (!agent.ok()) return agent.status();
  if (admin->port != 0 && admin->host == agent->host && admin->port == agent->port) {
    return absl::InvalidArgumentError(
        absl::StrCat("--admin-addr and --agent-addr are both ", admin->ToString(),
                     "; the admin and agent APIs need different ports"));
  }
  std::optional<ListenAddress> http;
  if (!config.http_addr.empty()) {
    absl::StatusOr<ListenAddress> parsed = ParseListenAddress("--http-addr", config.http_addr);
    if (!parsed.ok()) return parsed.status();
    for (const auto& [flag, other] :
         {std::pair{"--admin-addr", &*admin}, {"--agent-addr", &*agent}}) {
      if (parsed->port != 0 && parsed->host == other->host && parsed->port == other->port) {
        return absl::InvalidArgumentError(
            absl::StrCat("--http-addr and ", flag, " are both ", parsed->ToString(),
                         "; the HTTP endpoint needs a port of its own"));
      }
    }
    http = *std::move(parsed);
  }
  const std::string store =
      config.store.empty() ? absl::StrCat("rocksdb:", config.data_dir, "/store") : config.store;
  absl::StatusOr<storage::StoreSpec> spec = storage::ParseStoreSpec("--store", store);
  if (!spec.ok()) return spec.status();
  if (absl::Status etcd = AddEtcdFlags(config, *spec); !etcd.ok()) return etcd;
  if (config.heartbeat_interval < absl::Seconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat("--heartbeat-interval must be at least 1s (got ",
                                                   absl::FormatDuration(config.heartbeat_interval),
                                                   ")"));
  }
  if (config.max_connection_age < absl::Minutes(1) ||
      config.max_connection_age > absl::Hours(24 * 20)) {
    return absl::InvalidArgumentError(absl::StrCat("--max-connection-age must be 1m to 480h (got ",
                                                   absl::FormatDuration(config.max_connection_age),
                                                   ")"));
  }
  if (config.credential_max_age != absl::ZeroDuration() &&
      config.credential_max_age < absl::Minutes(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--credential-max-age must be 0 (never) or at least 1m (got ",
                     absl::FormatDuration(config.credential_max_age), ")"));
  }
  if (config.revision_retention < 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--revision-retention must be at least 1000 (got ", config.revision_retention, ")"));
  }
  if (config.revision_cache_bytes < 0) {
    return absl::InvalidArgumentError(absl::StrCat("--revision-cache-bytes must be 0 or more (got ",
                                                   config.revision_cache_bytes, ")"));
  }
  if (config.max_concurrent_queries < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-concurrent-queries must be at least 1 (got ", config.max_concurrent_queries, ")"));
  }
  if (config.query_max_rows_per_agent < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--query-max-rows-per-agent must be at least 1 (got ",
                     config.query_max_rows_per_agent, ")"));
  }
  if (config.query_max_bytes < 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("--query-max-bytes must be at least 1024 (got ", config.query_max_bytes, ")"));
  }
  if (config.policy_history < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--policy-history must be at least 1 (got ", config.policy_history, ")"));
  }
  absl::StatusOr<rpc::ClientAuth> agent_client_auth = AgentClientAuth(config);
  if (!agent_client_auth.ok()) return agent_client_auth.status();
  const rpc::FlagFile shared_cert{"--tls-cert", config.tls_cert_file};
  const rpc::FlagFile shared_key{"--tls-key", config.tls_key_file};
  absl::StatusOr<std::optional<std::pair<rpc::FlagFile, rpc::FlagFile>>> admin_pair =
      ListenerKeyPair({"--admin-tls-cert", config.admin_tls_cert_file},
                      {"--admin-tls-key", config.admin_tls_key_file}, shared_cert, shared_key);
  if (!admin_pair.ok()) return admin_pair.status();
  absl::StatusOr<std::optional<std::pair<rpc::FlagFile, rpc::FlagFile>>> agent_pair =
      ListenerKeyPair({"--agent-tls-cert", config.agent_tls_cert_file},
                      {"--agent-tls-key", config.agent_tls_key_file}, shared_cert, shared_key);
  if (!agent_pair.ok()) return agent_pair.status();
  std::vector<std::string> warnings;
  const rpc::FlagFile admin_ca{"--admin-client-ca", config.admin_client_ca_file};
  absl::StatusOr<std::optional<rpc::ServerTlsOptions>> admin_tls =
      ListenerTls("--admin-addr", *admin, *admin_pair, admin_ca,
                  admin_ca.path.empty() ? rpc::ClientAuth::kNone : rpc::ClientAuth::kRequired,
                  config.insecure_plaintext, warnings);
  if (!admin_tls.ok()) return admin_tls.status();
  absl::StatusOr<std::optional<rpc::ServerTlsOptions>> agent_tls = ListenerTls(
      "--agent-addr", *agent, *agent_pair, {"--agent-client-ca", config.agent_client_ca_file},
      *agent_client_auth, config.insecure_plaintext, warnings);
  if (!agent_tls.ok()) return agent_tls.status();
  return ValidConfig{.config = config,
                     .admin = *admin,
                     .agent = *agent,
                     .http = std::move(http),
                     .store = *std::move(spec),
                     .admin_tls = *std::move(admin_tls),
                     .agent_tls = *std::move(agent_tls),
                     .warnings = std::move(warnings)};
}

}  // namespace fleet::server
