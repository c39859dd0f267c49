#include "server/app/control_plane.h"

#include <string>
#include <utility>

namespace fleet::server {

ControlPlane::ControlPlane(storage::Store& store, Clock& clock, AgentStateOptions state_options,
                           QueryLimits query_limits)
    : state_(store, clock, state_options, &rollouts_),
      directory_(store),
      mailbox_(clock),
      hub_(directory_),
      queries_(mailbox_, state_, clock, query_limits) {
  directory_.AddObserver(hub_);
  mailbox_.SetObserver(&hub_);
  directory_.AddObserver(rollouts_);
}

ControlPlane::~ControlPlane() {
  queries_.SetForwarder(nullptr);
  if (relay_ != nullptr) relay_->Stop();
  if (sessions_ != nullptr) sessions_->Stop();
  state_.SetPublisher(nullptr);
  if (actions_ != nullptr) actions_->Stop();
  engine_.reset();
  directory_.Stop();
  mailbox_.Stop();
}

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Start(
    storage::Store& store, Clock& clock, AgentStateOptions state_options,
    absl::Duration sync_timeout, int64_t revision_cache_bytes, QueryLimits query_limits,
    std::optional<record::ReplicaRecord> replica) {
  std::unique_ptr<ControlPlane> plane(new ControlPlane(store, clock, state_options, query_limits));
  if (absl::Status s = plane->state_.Load(); !s.ok()) return s;
  if (store.Shared() && replica.has_value()) {
    ControlPlane* const raw = plane.get();
    absl::StatusOr<std::unique_ptr<ReplicaLease>> lease =
        ReplicaLease::Start(store, *std::move(replica), [raw] { raw->state_.RepublishHeld(); });
    if (!lease.ok()) return lease.status();
    plane->replica_lease_ = *std::move(lease);
    plane->sessions_ = std::make_unique<SessionShare>(
        store, plane->state_, *plane->replica_lease_,
        [raw](const std::string& agent_id) { raw->hub_.TakenOver(agent_id); });
    plane->state_.SetPublisher(plane->sessions_.get());
    if (absl::Status s = plane->sessions_->Start(sync_timeout); !s.ok()) return s;
    plane->relay_ = std::make_unique<QueryRelay>(store, plane->queries_, *plane->replica_lease_);
    if (absl::Status s = plane->relay_->Start(sync_timeout); !s.ok()) return s;
    plane->queries_.SetForwarder(plane->relay_.get());
  }
  if (absl::Status s = plane->directory_.Start(sync_timeout); !s.ok()) return s;
  absl::StatusOr<std::unique_ptr<PolicyEngine>> engine = PolicyEngine::Start(
      store,
      [raw = plane.get()](const std::string& policy, int64_t) {
        raw->rollouts_.PolicyChanged(policy);
        raw->hub_.PolicyChanged(policy);
      },
      sync_timeout, revision_cache_bytes);
  if (!engine.ok()) return engine.status();
  plane->engine_ = *std::move(engine);
  plane->actions_ = std::make_unique<ActionEngine>(store, clock, plane->mailbox_);
  if (absl::Status s = plane->actions_->Start(sync_timeout); !s.ok()) return s;
  return plane;
}

}  // namespace fleet::server
