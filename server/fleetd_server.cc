#include "server/fleetd_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/listen_address.h"
#include "storage/rocksdb_store.h"

namespace fleet::server {
namespace {

constexpr char kStoreBackend[] = "rocksdb";

// Process-wide gRPC switches that every server built afterwards picks up.
void InitGrpcOnce() {
  static const bool initialized = [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    return true;
  }();
  (void)initialized;
}

// Starts a server listening on `address` (the value of `flag`) with `service`, if any, next to
// health and reflection. Stores the bound port in `*port`.
// Channel arguments for one server, by name.
using ChannelArgs = std::vector<std::pair<std::string, int>>;

// What the agent server asks of its long-lived streams: server keepalive pings find dead peers
// behind silent NATs; a maximum connection age (gRPC adds +-10% jitter) lets load balancers
// rebalance agents, with a grace period for the stream to move.
ChannelArgs AgentChannelArgs(const FleetdConfig& config) {
  return {
      {GRPC_ARG_KEEPALIVE_TIME_MS, 60'000},
      {GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000},
      {GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000},
      {GRPC_ARG_MAX_CONNECTION_AGE_MS,
       static_cast<int>(absl::ToInt64Milliseconds(config.max_connection_age))},
      {GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, 30'000},
  };
}

absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(const std::string& flag,
                                                          const ListenAddress& address,
                                                          grpc::Service* service, int* port,
                                                          const ChannelArgs& args = {},
                                                          AgentService* agent_service = nullptr) {
  grpc::ServerBuilder builder;
  for (const auto& [name, value] : args) builder.AddChannelArgument(name, value);
  // gRPC sets SO_REUSEPORT by default, which would let a second fleetd share our port and steal
  // half of its connections instead of failing to start.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(address.ToString(), grpc::InsecureServerCredentials(), port);
  if (service != nullptr) builder.RegisterService(service);
  // Connect streams run on the agent service's own completion queues.
  if (agent_service != nullptr) agent_service->AddQueuesTo(builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || *port == 0) {
    if (server != nullptr) server->Shutdown();
    return ExplainListenFailure(flag, address);
  }
  if (agent_service != nullptr) agent_service->StartServing();
  return server;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FleetdServer>> FleetdServer::Start(const FleetdConfig& config) {
  absl::StatusOr<ListenAddress> admin = ParseListenAddress("--admin-addr", config.admin_addr);
  if (!admin.ok()) return admin.status();
  absl::StatusOr<ListenAddress> agent = ParseListenAddress("--agent-addr", config.agent_addr);
  if (!agent.ok()) return agent.status();
  if (admin->port != 0 && admin->host == agent->host && admin->port == agent->port) {
    return absl::InvalidArgumentError(
        absl::StrCat("--admin-addr and --agent-addr are both ", admin->ToString(),
                     "; the admin and agent APIs need different ports"));
  }

  absl::StatusOr<std::unique_ptr<DataDirLock>> lock = DataDirLock::Acquire(config.data_dir);
  if (!lock.ok()) return lock.status();
  absl::StatusOr<std::unique_ptr<storage::Store>> store =
      storage::OpenRocksDbStore(absl::StrCat(config.data_dir, "/store"));
  if (!store.ok()) return store.status();

  if (config.heartbeat_interval < absl::Seconds(1) ||
      config.max_connection_age < absl::Minutes(1) ||
      config.max_connection_age > absl::Hours(24 * 20)) {
    return absl::InvalidArgumentError(
        "--heartbeat-interval must be at least 1s and --max-connection-age 1m to 480h");
  }
  if (config.revision_retention < 1000) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--revision-retention must be at least 1000 (got ", config.revision_retention, ")"));
  }
  if (config.policy_history < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--policy-history must be at least 1 (got ", config.policy_history, ")"));
  }
  InitGrpcOnce();
  auto admin_service = std::make_unique<AdminService>(
      **store, Clock::Real(),
      AdminServiceOptions{.store_backend = kStoreBackend,
                          .policy = {.history_limit = config.policy_history},
                          .heartbeat_interval = config.heartbeat_interval});
  int admin_port = 0;
  absl::StatusOr<std::unique_ptr<grpc::Server>> admin_server =
      StartServer("--admin-addr", *admin, admin_service.get(), &admin_port);
  if (!admin_server.ok()) return admin_server.status();
  int agent_port = 0;
  absl::StatusOr<std::unique_ptr<AgentService>> agent_service = AgentService::Create(
      **store, Clock::Real(), {.heartbeat_interval = config.heartbeat_interval});
  if (!agent_service.ok()) {
    (*admin_server)->Shutdown();
    (*admin_server)->Wait();
    return agent_service.status();
  }
  absl::StatusOr<std::unique_ptr<grpc::Server>> agent_server = StartServer(
      "--agent-addr", *agent, agent_service->get(), &agent_port, AgentChannelArgs(config),
      agent_service->get());
  if (!agent_server.ok()) {
    (*admin_server)->Shutdown();
    (*admin_server)->Wait();
    return agent_server.status();
  }
  // Only once both addresses are bound, so that a start that fails there mints nothing that a
  // later start would not announce.
  absl::StatusOr<std::optional<std::string>> bootstrap =
      admin_service->admin_tokens().EnsureBootstrapToken(config.data_dir);
  if (!bootstrap.ok()) {
    for (grpc::Server* server : {admin_server->get(), agent_server->get()}) {
      server->Shutdown();
      server->Wait();
    }
    return bootstrap.status();
  }

  return std::unique_ptr<FleetdServer>(new FleetdServer(
      config.revision_retention, config.data_dir, bootstrap->value_or(""),
      admin->WithPort(admin_port), admin_port, agent->WithPort(agent_port), agent_port,
      *std::move(lock), *std::move(store), std::move(admin_service), *std::move(admin_server),
      *std::move(agent_service), *std::move(agent_server)));
}

FleetdServer::FleetdServer(int64_t revision_retention, std::string data_dir,
                           std::string bootstrap_token_file, std::string admin_address,
                           int admin_port, std::string agent_address, int agent_port,
                           std::unique_ptr<DataDirLock> lock, std::unique_ptr<storage::Store> store,
                           std::unique_ptr<AdminService> admin_service,
                           std::unique_ptr<grpc::Server> admin_server,
                           std::unique_ptr<AgentService> agent_service,
                           std::unique_ptr<grpc::Server> agent_server)
    : data_dir_(std::move(data_dir)),
      bootstrap_token_file_(std::move(bootstrap_token_file)),
      admin_address_(std::move(admin_address)),
      agent_address_(std::move(agent_address)),
      admin_port_(admin_port),
      agent_port_(agent_port),
      lock_(std::move(lock)),
      store_(std::move(store)),
      compactor_(std::make_unique<StoreCompactor>(
          *store_, CompactorOptions{.retain_revisions = revision_retention})),
      admin_service_(std::move(admin_service)),
      admin_server_(std::move(admin_server)),
      agent_service_(std::move(agent_service)),
      agent_server_(std::move(agent_server)) {}

FleetdServer::~FleetdServer() { Shutdown(absl::ZeroDuration()); }

void FleetdServer::Shutdown(absl::Duration grace) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  shut_down_ = true;
  const std::chrono::system_clock::time_point deadline = absl::ToChronoTime(absl::Now() + grace);
  // Agents hear GoAway first and reconnect with backoff, to this fleetd once it is back or to
  // another one.
  agent_service_->GoAway();
  // grpc::Server::Shutdown blocks for the grace period; shutting both down side by side makes
  // both stop accepting at once and bounds the whole by one `grace`.
  std::thread agent_shutdown([this, deadline] { agent_server_->Shutdown(deadline); });
  admin_server_->Shutdown(deadline);
  agent_shutdown.join();
  admin_server_->Wait();
  agent_server_->Wait();
  // Drains the Connect streams' queues: every session has ended when it returns.
  agent_service_->StopServing();
  agent_service_.reset();  // its threads read the store
  compactor_.reset();
  store_.reset();
  lock_.reset();
}

}  // namespace fleet::server
