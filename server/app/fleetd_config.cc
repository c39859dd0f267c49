#include "server/app/fleetd_config.h"

#include "absl/strings/str_cat.h"

namespace fleet::server {

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
  const std::string store =
      config.store.empty() ? absl::StrCat("rocksdb:", config.data_dir, "/store") : config.store;
  absl::StatusOr<storage::StoreSpec> spec = storage::ParseStoreSpec("--store", store);
  if (!spec.ok()) return spec.status();
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
  if (config.policy_history < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--policy-history must be at least 1 (got ", config.policy_history, ")"));
  }
  return ValidConfig{.config = config, .admin = *admin, .agent = *agent, .store = *std::move(spec)};
}

}  // namespace fleet::server
