// fleet.v1.AgentService (proto/fleet/v1/agent.proto), the API agents call. Enroll is served on
// the sync API: each call waits on one durable store write, which the sync server's thread pool
// is for. Connect is a raw callback stream (AgentSession): never a thread per agent, and policy
// updates go out as bytes serialized once for every stream.
#ifndef FLEETD_SERVER_AGENT_SERVICE_H_
#define FLEETD_SERVER_AGENT_SERVICE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "server/agent_hub.h"
#include "server/agent_state.h"
#include "server/clock.h"
#include "server/enrollment_service.h"
#include "server/policy_engine.h"

namespace fleet::server {

struct AgentServiceOptions {
  // Sent to agents in Welcome; an agent counts as offline after three missed heartbeats.
  absl::Duration heartbeat_interval = absl::Seconds(30);
  AgentStateOptions state;
};

// Thread-safe.
class AgentService final
    : public v1::AgentService::WithRawCallbackMethod_Connect<v1::AgentService::Service> {
 public:
  // Starts following the store's policies and agents. `store` and `clock` must outlive the
  // service, which must outlive the grpc::Server it is registered with.
  static absl::StatusOr<std::unique_ptr<AgentService>> Create(storage::Store& store, Clock& clock,
                                                              AgentServiceOptions options);

  grpc::Status Enroll(grpc::ServerContext* context, const v1::EnrollRequest* request,
                      v1::EnrollResponse* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Connect(
      grpc::CallbackServerContext* context) override;

  // Tells every connected agent to go away; call before shutting the server down.
  void GoAway();

 private:
  AgentService(storage::Store& store, Clock& clock, AgentServiceOptions options);

  storage::Store& store_;  // not owned
  const AgentServiceOptions options_;
  EnrollmentService enrollment_;
  AgentStateTracker state_;
  std::unique_ptr<AgentHub> hub_;
  // Last: stopped first, so that it never calls into a destroyed hub.
  std::unique_ptr<PolicyEngine> engine_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_SERVICE_H_
