#include "server/app/fleetd_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <chrono>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/fd_limit.h"
#include "rpc/request_metrics_interceptor.h"
#include "rpc/tls_credentials.h"
#include "rpc/unparsed_request_interceptor.h"
#include "server/app/fleetd_metrics.h"
#include "server/app/listen_address.h"
#include "server/model/secret_token.h"
#include "spdlog/spdlog.h"
#include "storage/metered_store.h"
#include "storage/open/open_store.h"

namespace fleet::server {
namespace {

// A replica's id: 12 random hex characters, new with every start (a restarted replica is a new
// one; the agents it held reconnect and are claimed again).
std::string NewReplicaId() { return MintToken("frep").id; }

// Process-wide gRPC switches that every server built afterwards picks up.
void InitGrpcOnce() {
  static const bool initialized = [] {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    return true;
  }();
  (void)initialized;
}

// Channel arguments for one server, by name.
using ChannelArgs = std::vector<std::pair<std::string, int>>;

// A connection that has not finished its HTTP/2 handshake (the client's preface and SETTINGS)
// within this long is closed. gRPC's default is 120 s, for which an idle connection that never
// sends a byte holds a descriptor of its listener's budget; legitimate clients finish in
// milliseconds.
constexpr int kHandshakeTimeoutMs = 10'000;

// What both servers ask of every connection.
ChannelArgs CommonChannelArgs() {
  return {{GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, kHandshakeTimeoutMs}};
}

// What the agent server asks of its long-lived streams, besides what every connection is asked:
// server keepalive pings find dead peers behind silent NATs; a maximum connection age (gRPC adds
// +-10% jitter) lets load balancers rebalance agents, with a grace period for the stream to move.
// No BDP probes: gRPC would answer data from an agent with a ping to estimate the link's
// bandwidth-delay product, to grow its receive window for bulk uploads. Agents send small
// messages (acks, status reports, action status, query results of at most 1 MiB each), and with
// one connection per agent those pings were about a sixth of the TCP segments a live query cost
// (scripts/bench query, 10,000 agents).
ChannelArgs AgentChannelArgs(const FleetdConfig& config) {
  ChannelArgs args = CommonChannelArgs();
  args.insert(args.end(),
              {
                  {GRPC_ARG_KEEPALIVE_TIME_MS, 60'000},
                  {GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 20'000},
                  {GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10'000},
                  {GRPC_ARG_MAX_CONNECTION_AGE_MS,
                   static_cast<int>(absl::ToInt64Milliseconds(config.max_connection_age))},
                  {GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, 30'000},
                  {GRPC_ARG_HTTP2_BDP_PROBE, 0},
              });
  return args;
}

// What the admin server asks of its connections, besides what every connection is asked: one
// with no call in flight for this long is closed (a `rollout status --watch` keeps its call open,
// so it is never idle), so that clients that finished their handshake and then sit idle cannot
// hold the admin budget below for long; fleetctl opens a connection per command anyway.
constexpr int kAdminIdleMs = 30'000;

ChannelArgs AdminChannelArgs() {
  ChannelArgs args = CommonChannelArgs();
  args.push_back({GRPC_ARG_MAX_CONNECTION_IDLE_MS, kAdminIdleMs});
  return args;
}

// The descriptor budgets. The limit is split three ways, and no listener can take another's
// share:
// - the store's reserve: descriptors the rest of fleetd may need at any time: RocksDB keeps up
//   to 512 table files open (max_open_files, storage/rocksdb/rocksdb_store.cc), plus its WAL,
//   MANIFEST, LOCK, LOG and directories, and gRPC its epoll and wakeup descriptors. No
//   connection may use these.
// - the admin budget: at most this many admin connections (fleetctl, automation, rollout
//   watches) open at once, counted by the admin listener itself (open_connections.h).
// - the agents: everything else. Agent connections may use neither the store's reserve nor the
//   admin budget, whether or not the admin connections use it now; admin connections do not
//   count against the agents.
// So a flood of connections to one port is refused there once its share is used, while the
// other port serves on; with the handshake timeout above, idle connections give their
// descriptors back within seconds.
constexpr uint64_t kStoreReserve = 512 + 32;
constexpr uint64_t kAdminConnections = 128;
// Under a small limit the shares shrink to these fractions of it, so that agents still get
// half the descriptors and admin connections an eighth.
constexpr double kStoreReserveMaxFraction = 0.375;
constexpr double kAdminConnectionsMaxFraction = 0.125;

// On a shared store: how seldom, at least, a replica writes an agent's heartbeat-only change.
constexpr absl::Duration kSharedLastSeenWriteInterval = absl::Minutes(1);

std::unique_ptr<FdBudget> MakeFdBudget() {
  absl::StatusOr<FdLimit> limit = CurrentFdLimit();
  if (!limit.ok()) {
    spdlog::warn("{}; admitting connections without a descriptor budget",
                 std::string(limit.status().message()));
  }
  return std::make_unique<FdBudget>(FdBudgetOptions{.limit = limit.ok() ? limit->soft : UINT64_MAX},
                                    CountOpenDescriptors, Clock::Real());
}

// A gRPC server on connections from a ConnectionAcceptor.
struct Endpoint {
  std::unique_ptr<ConnectionAcceptor> acceptor;
  std::unique_ptr<grpc::Server> server;

  // Refuses new connections, then shuts the server down (see FleetdServer::Shutdown).
  void Stop() {
    acceptor->Stop();
    server->Shutdown();
    server->Wait();
  }
};

// The credentials a listener serves with: TLS when configured, else plaintext (which
// ValidateConfig allows off loopback only with --insecure-plaintext).
std::shared_ptr<grpc::ServerCredentials> ListenerCredentials(
    const std::string& name, const std::optional<rpc::ServerTlsOptions>& tls) {
  if (!tls.has_value()) {
    spdlog::info("{} listener: plaintext", name);
    return grpc::InsecureServerCredentials();
  }
  spdlog::info("{} listener: TLS with {} (key {}), client certificates {}{}{}", name,
               tls->cert_file, tls->key_file, rpc::ClientAuthName(tls->client_auth),
               tls->client_ca_file.empty() ? "" : " from CA ", tls->client_ca_file);
  return rpc::ServerTlsCredentials(*tls);
}

// Listens on `address` (the value of `flag`) and starts a server there with `service`, if any,
// next to health and reflection, its connections secured by `credentials`. Errors as
// ConnectionAcceptor::Listen.
absl::StatusOr<Endpoint> StartEndpoint(
    const std::string& flag, const ListenAddress& address, FdBudget& budget,
    ConnectionAcceptorOptions options, std::shared_ptr<grpc::ServerCredentials> credentials,
    grpc::Service* service, const ChannelArgs& args = {}, AgentService* agent_service = nullptr,
    std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> request_metrics =
        nullptr) {
  absl::StatusOr<std::unique_ptr<ConnectionAcceptor>> acceptor =
      ConnectionAcceptor::Listen(flag, address, budget, std::move(options));
  if (!acceptor.ok()) return acceptor.status();
  grpc::ServerBuilder builder;
  for (const auto& [name, value] : args) builder.AddChannelArgument(name, value);
  // Connections handed over by descriptor go through the same handshakers as listened ones, TLS
  // included.
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> sink =
      builder.experimental().AddExternalConnectionAcceptor(
          grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
          std::move(credentials));
  if (service != nullptr) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(rpc::NewUnparsedRequestInterceptorFactory());
  // After the one above, so that it counts the status that one sends.
  if (request_metrics != nullptr) interceptors.push_back(std::move(request_metrics));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  // Connect streams run on the agent service's own completion queues.
  if (agent_service != nullptr) agent_service->AddQueuesTo(builder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve on ", flag, " ", address.ToString(),
                                               " (gRPC's log above may say why)"));
  }
  if (agent_service != nullptr) agent_service->StartServing();
  (*acceptor)->Start(std::move(sink));
  return Endpoint{.acceptor = *std::move(acceptor), .server = std::move(server)};
}

// Transactions take from well under a millisecond (memory, RocksDB's group commit) to seconds
// (a remote store in trouble).
std::vector<double> TxnBuckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
}

}  // namespace

absl::StatusOr<std::unique_ptr<FleetdServer>> FleetdServer::Start(const FleetdConfig& config) {
  return Start(config, nullptr);
}

absl::StatusOr<std::unique_ptr<FleetdServer>> FleetdServer::Start(
    const FleetdConfig& unchecked, std::unique_ptr<storage::Store> given_store) {
  absl::StatusOr<ValidConfig> valid = ValidateConfig(unchecked);
  if (!valid.ok()) return valid.status();
  const FleetdConfig& config = valid->config;
  const ListenAddress* const admin = &valid->admin;
  const ListenAddress* const agent = &valid->agent;
  for (const std::string& warning : valid->warnings) spdlog::warn("{}", warning);

  absl::StatusOr<std::unique_ptr<DataDirLock>> lock = DataDirLock::Acquire(config.data_dir);
  if (!lock.ok()) return lock.status();
  // Before everything it reports on, so that /readyz answers (503) while the store opens and the
  // control plane lists; its locals go after theirs, should Start fail.
  Observability observability{.registry = std::make_unique<metrics::Registry>(),
                              .components = std::make_unique<ServingComponents>()};
  metrics::Registry& registry = *observability.registry;
  AddFleetdMetrics(registry, *observability.components);
  // A shared store's probe is a write the whole cluster carries: every 5 s, not every second.
  const bool shared_store = valid->store.backend == storage::StoreSpec::Backend::kEtcd;
  observability.health = std::make_unique<HealthMonitor>(
      *observability.components, Clock::Real(),
      shared_store
          ? HealthMonitorOptions{.interval = absl::Seconds(5), .probe_max_age = absl::Seconds(15)}
          : HealthMonitorOptions{});
  if (valid->http.has_value()) {
    // The admin listener's pair (--admin-tls-*, else --tls-*): the endpoint is the operators'.
    HttpEndpointOptions http_options;
    if (valid->admin_tls.has_value()) {
      http_options.tls_cert_file = valid->admin_tls->cert_file;
      http_options.tls_key_file = valid->admin_tls->key_file;
    }
    absl::StatusOr<std::unique_ptr<HttpEndpoint>> http = HttpEndpoint::Start(
        "--http-addr", *valid->http, std::move(http_options), registry, *observability.health);
    if (!http.ok()) return http.status();
    observability.http = *std::move(http);
    observability.http_port = observability.http->port();
    observability.http_address = valid->http->WithPort(observability.http_port);
  }
  absl::StatusOr<std::unique_ptr<storage::Store>> opened =
      given_store != nullptr ? std::move(given_store) : storage::OpenStore(valid->store);
  if (!opened.ok()) return opened.status();
  absl::StatusOr<std::unique_ptr<storage::Store>> store = std::make_unique<storage::MeteredStore>(
      *std::move(opened), storage::AddStoreInstruments(registry, TxnBuckets()), Clock::Real());
  // On a shared store this fleetd is one replica of several: it gets an id of its own, flushes
  // its agents' state every 2 s rather than every 0.5 s, and writes a heartbeat-only change of an
  // agent at most once a minute (or once per heartbeat interval, if longer), so that idle agents
  // cost the cluster few writes (docs/scaling.md); its views allow for last-seen times that much
  // older. Its own rollout views see every change at once.
  AgentStateOptions state_options;
  std::optional<record::ReplicaRecord> replica;
  if ((*store)->Shared()) {
    state_options.replica = NewReplicaId();
    state_options.flush_interval = absl::Seconds(2);
    state_options.last_seen_write_interval =
        std::max(kSharedLastSeenWriteInterval, config.heartbeat_interval);
    replica.emplace();
    replica->set_id(state_options.replica);
    replica->set_admin_address(config.admin_addr);
    replica->set_agent_address(config.agent_addr);
    replica->set_started_unix_micros(absl::ToUnixMicros(absl::Now()));
  }
  absl::StatusOr<std::unique_ptr<ControlPlane>> control = ControlPlane::Start(
      **store, Clock::Real(), state_options, absl::Seconds(30), config.revision_cache_bytes,
      QueryLimits{.max_concurrent = config.max_concurrent_queries,
                  .max_rows_per_agent = config.query_max_rows_per_agent,
                  .max_bytes = config.query_max_bytes},
      std::move(replica));
  if (!control.ok()) return control.status();

  InitGrpcOnce();
  std::unique_ptr<FdBudget> fd_budget = MakeFdBudget();
  const uint64_t limit = fd_budget->limit();
  auto admin_service = std::make_unique<AdminService>(
      **store, Clock::Real(),
      AdminControl{.directory = (*control)->directory(),
                   .state = (*control)->state(),
                   .rollouts = (*control)->rollouts(),
                   .actions = &(*control)->actions(),
                   .queries = &(*control)->queries()},
      AdminServiceOptions{.store_backend = valid->store.BackendName(),
                          .policy = {.history_limit = config.policy_history},
                          .heartbeat_interval = config.heartbeat_interval,
                          .last_seen_lag = state_options.replica.empty()
                                               ? absl::ZeroDuration()
                                               : state_options.last_seen_write_interval +
                                                     state_options.flush_interval});
  const uint64_t store_reserve =
      FdBudget::ScaledReserve(limit, kStoreReserve, kStoreReserveMaxFraction);
  const uint64_t admin_connections =
      FdBudget::ScaledReserve(limit, kAdminConnections, kAdminConnectionsMaxFraction);
  absl::StatusOr<Endpoint> admin_endpoint = StartEndpoint(
      "--admin-addr", *admin, *fd_budget,
      {.name = "admin",
       .reserve = store_reserve,
       .max_connections = admin_connections,
       .metrics = &registry},
      ListenerCredentials("admin", valid->admin_tls), admin_service.get(), AdminChannelArgs(),
      nullptr,
      rpc::NewRequestMetricsInterceptorFactory(
          {.requests = registry.AddCounterFamily(
               "fleetd_admin_requests_total",
               "Admin API calls, by method and final gRPC status code.", {"method", "code"}),
           .duration_seconds = registry.AddHistogramFamily(
               "fleetd_admin_request_duration_seconds",
               "Time from an admin call's start to its status, by method, in seconds.", {"method"},
               metrics::DefaultLatencyBuckets())},
          Clock::Real()));
  if (!admin_endpoint.ok()) return admin_endpoint.status();
  auto agent_service = std::make_unique<AgentService>(
      **store, Clock::Real(),
      AgentControl{.updates = (*control)->engine(),
                   .directory = (*control)->directory(),
                   .state = (*control)->state(),
                   .hub = (*control)->hub(),
                   .mailbox = &(*control)->mailbox(),
                   .actions = &(*control)->actions(),
                   .queries = &(*control)->queries()},
      AgentServiceOptions{.heartbeat_interval = config.heartbeat_interval,
                          .metrics = &registry,
                          .credential_max_age = config.credential_max_age});
  absl::StatusOr<Endpoint> agent_endpoint = StartEndpoint(
      "--agent-addr", *agent, *fd_budget,
      {.name = "agent",
       .reserve = store_reserve + admin_connections,
       .set_aside = [admin = admin_endpoint->acceptor.get()] { return admin->open_connections(); },
       .metrics = &registry},
      ListenerCredentials("agent", valid->agent_tls), agent_service.get(), AgentChannelArgs(config),
      agent_service.get());
  if (!agent_endpoint.ok()) {
    admin_endpoint->Stop();
    return agent_endpoint.status();
  }
  // Only once both addresses are bound, so that a start that fails there mints nothing that a
  // later start would not announce.
  absl::StatusOr<std::optional<std::string>> bootstrap =
      admin_service->admin_tokens().EnsureBootstrapToken(config.data_dir);
  if (!bootstrap.ok()) {
    agent_endpoint->Stop();
    admin_endpoint->Stop();
    return bootstrap.status();
  }

  const int admin_port = admin_endpoint->acceptor->port();
  const int agent_port = agent_endpoint->acceptor->port();
  return std::unique_ptr<FleetdServer>(new FleetdServer(
      std::move(observability), config.revision_retention, config.data_dir, bootstrap->value_or(""),
      admin->WithPort(admin_port), admin_port, agent->WithPort(agent_port), agent_port,
      *std::move(lock), *std::move(store), *std::move(control), std::move(fd_budget),
      std::move(admin_service), std::move(admin_endpoint->acceptor),
      std::move(admin_endpoint->server), std::move(agent_service),
      std::move(agent_endpoint->acceptor), std::move(agent_endpoint->server)));
}

FleetdServer::FleetdServer(
    Observability observability, int64_t revision_retention, std::string data_dir,
    std::string bootstrap_token_file, std::string admin_address, int admin_port,
    std::string agent_address, int agent_port, std::unique_ptr<DataDirLock> lock,
    std::unique_ptr<storage::Store> store, std::unique_ptr<ControlPlane> control,
    std::unique_ptr<FdBudget> fd_budget, std::unique_ptr<AdminService> admin_service,
    std::unique_ptr<ConnectionAcceptor> admin_acceptor, std::unique_ptr<grpc::Server> admin_server,
    std::unique_ptr<AgentService> agent_service, std::unique_ptr<ConnectionAcceptor> agent_acceptor,
    std::unique_ptr<grpc::Server> agent_server)
    : observability_(std::move(observability)),
      data_dir_(std::move(data_dir)),
      bootstrap_token_file_(std::move(bootstrap_token_file)),
      admin_address_(std::move(admin_address)),
      agent_address_(std::move(agent_address)),
      admin_port_(admin_port),
      agent_port_(agent_port),
      lock_(std::move(lock)),
      store_(std::move(store)),
      compactor_(std::make_unique<StoreCompactor>(
          *store_, CompactorOptions{.retain_revisions = revision_retention})),
      control_(std::move(control)),
      fd_budget_(std::move(fd_budget)),
      admin_service_(std::move(admin_service)),
      admin_acceptor_(std::move(admin_acceptor)),
      admin_server_(std::move(admin_server)),
      agent_service_(std::move(agent_service)),
      agent_acceptor_(std::move(agent_acceptor)),
      agent_server_(std::move(agent_server)) {
  observability_.components->Attach({.store = *store_,
                                     .control = *control_,
                                     .admin_acceptor = *admin_acceptor_,
                                     .agent_acceptor = *agent_acceptor_,
                                     .admin_server = *admin_server_,
                                     .agent_server = *agent_server_});
  observability_.health->Refresh();
}

FleetdServer::~FleetdServer() { Shutdown(absl::ZeroDuration()); }

void FleetdServer::Shutdown(absl::Duration grace) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  shut_down_ = true;
  // Load balancers hear first that this fleetd is going; the HTTP endpoint answers on (503) until
  // the end.
  observability_.health->PublishNotServing();
  observability_.components->Detach();
  const std::chrono::system_clock::time_point deadline = absl::ToChronoTime(absl::Now() + grace);
  // From here on the kernel refuses new connections, and none reaches a server that is shutting
  // down (gRPC would leak it).
  agent_acceptor_->Stop();
  admin_acceptor_->Stop();
  // Running live queries end now, their callers told why, rather than cut off with nothing when
  // the grace period is up (their agents are about to go); watches end too, and their callers
  // reconnect.
  control_->queries().Interrupt();
  admin_service_->EndWatches();
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
  agent_service_.reset();
  control_.reset();  // its threads read the store
  compactor_.reset();
  store_.reset();
  lock_.reset();
  if (observability_.http != nullptr) observability_.http->Stop();
}

}  // namespace fleet::server
