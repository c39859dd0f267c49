#include "server/app/health_monitor.h"

#include <grpcpp/health_check_service_interface.h>

#include "absl/strings/str_cat.h"
#include "server/model/store_layout.h"

namespace fleet::server {
namespace {

using Phase = ServingComponents::Phase;

// The gRPC health service names each server answers for, "" (the server as a whole) first.
constexpr const char* kAdminServices[] = {"", "fleet.v1.AdminService"};
constexpr const char* kAgentServices[] = {"", "fleet.v1.AgentService"};

void SetStatus(grpc::Server& server, const auto& services, bool serving) {
  grpc::HealthCheckServiceInterface* health = server.GetHealthCheckService();
  if (health == nullptr) return;
  for (const char* service : services) health->SetServingStatus(service, serving);
}

ReadinessCheck Named(std::string name, bool ok, std::string detail) {
  return {.name = std::move(name), .ok = ok, .detail = std::move(detail)};
}

}  // namespace

HealthMonitor::HealthMonitor(ServingComponents& components, Clock& clock,
                             HealthMonitorOptions options)
    : components_(components), clock_(clock), options_(options), thread_([this] { Run(); }) {}

HealthMonitor::~HealthMonitor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void HealthMonitor::Run() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      const auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.interval)) return;
    }
    Refresh();
  }
}

void HealthMonitor::Refresh() {
  ProbeStore();
  Publish();
}

void HealthMonitor::ProbeStore() {
  const absl::Time now = clock_.Now();
  std::optional<absl::Status> written =
      components_.Visit([&](Phase, const ServingParts* parts) -> std::optional<absl::Status> {
        if (parts == nullptr) return std::nullopt;
        return parts->store.PutState({{layout::kHealthProbe, absl::FormatTime(now)}}, {});
      });
  if (!written.has_value()) return;
  absl::MutexLock lock(&probe_mu_);
  last_probe_ = *written;
  if (written->ok()) last_success_ = now;
}

std::vector<ReadinessCheck> HealthMonitor::Check() {
  absl::Status probe;
  absl::Time success;
  {
    absl::MutexLock lock(&probe_mu_);
    probe = last_probe_;
    success = last_success_;
  }
  const absl::Duration age = clock_.Now() - success;
  return components_.Visit([&](Phase phase,
                               const ServingParts* parts) -> std::vector<ReadinessCheck> {
    if (parts == nullptr) {
      // Every check, failing, so that a probe during startup or shutdown sees what is missing.
      const std::string detail =
          phase == Phase::kStarting ? "fleetd is starting" : "fleetd is stopping";
      std::vector<ReadinessCheck> checks = {Named("serving", false, detail)};
      for (const char* name : {"store", "reflector:policy_engine", "reflector:agent_directory",
                               "listener:admin", "listener:agent"}) {
        checks.push_back(Named(name, false, detail));
      }
      return checks;
    }
    std::vector<ReadinessCheck> checks;
    if (!probe.ok()) {
      checks.push_back(Named("store", false, absl::StrCat("a write failed: ", probe.message())));
    } else if (age > options_.probe_max_age) {
      checks.push_back(Named("store", false,
                             absl::StrCat("no write succeeded for ", absl::FormatDuration(age))));
    } else {
      checks.push_back(Named("store", true, "open and writable"));
    }
    const auto synced = [](bool ok) { return ok ? "synced" : "not synced with the store"; };
    const bool engine = parts->control.engine().synced();
    const bool directory = parts->control.directory().synced();
    checks.push_back(Named("reflector:policy_engine", engine, synced(engine)));
    checks.push_back(Named("reflector:agent_directory", directory, synced(directory)));
    // On a shared store: the other replicas' agents and queries.
    if (SessionShare* sessions = parts->control.sessions(); sessions != nullptr) {
      const bool ok = sessions->synced();
      checks.push_back(Named("reflector:agent_sessions", ok, synced(ok)));
    }
    if (QueryRelay* relay = parts->control.relay(); relay != nullptr) {
      const bool ok = relay->synced();
      checks.push_back(Named("reflector:query_relay", ok, synced(ok)));
    }
    const auto accepting = [](bool ok) { return ok ? "accepting" : "not accepting"; };
    const bool admin = parts->admin_acceptor.accepting();
    const bool agent = parts->agent_acceptor.accepting();
    checks.push_back(Named("listener:admin", admin, accepting(admin)));
    checks.push_back(Named("listener:agent", agent, accepting(agent)));
    return checks;
  });
}

bool HealthMonitor::AllOk(const std::vector<ReadinessCheck>& checks) {
  for (const ReadinessCheck& check : checks) {
    if (!check.ok) return false;
  }
  return true;
}

void HealthMonitor::Publish() {
  const bool ready = AllOk(Check());
  absl::MutexLock lock(&mu_);
  if (not_serving_) return;  // shutting down: it stays so
  components_.Visit([&](Phase, const ServingParts* parts) {
    if (parts == nullptr) return;
    SetStatus(parts->admin_server, kAdminServices, ready);
    SetStatus(parts->agent_server, kAgentServices, ready);
  });
}

void HealthMonitor::PublishNotServing() {
  absl::MutexLock lock(&mu_);
  not_serving_ = true;
  components_.Visit([&](Phase, const ServingParts* parts) {
    if (parts == nullptr) return;
    SetStatus(parts->admin_server, kAdminServices, false);
    SetStatus(parts->agent_server, kAgentServices, false);
  });
}

}  // namespace fleet::server
