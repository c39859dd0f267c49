// fleet.v1.AgentService (proto/fleet/v1/agent.proto), the API agents call. Enroll is served on
// the sync API: each call waits on one durable store write, which the sync server's thread pool
// is for. Connect is a raw async stream (AgentSession) on a pool of completion queues (see
// cq_pool.h for why not the callback API): never a thread per agent, and policy updates go out as
// bytes serialized once for every stream.
#ifndef FLEETD_SERVER_AGENT_AGENT_SERVICE_H_
#define FLEETD_SERVER_AGENT_AGENT_SERVICE_H_

#include <grpcpp/server_builder.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/log_rate_limiter.h"
#include "fleet/v1/agent.grpc.pb.h"
#include "rpc/async_server_stream.h"
#include "rpc/cq_pool.h"
#include "rpc/live_calls.h"
#include "server/agent/agent_hub.h"
#include "server/agent/agent_metrics.h"
#include "server/agent/enrollment_service.h"
#include "server/control/agent_directory.h"
#include "server/control/agent_state.h"
#include "server/control/credential_writer.h"
#include "server/control/update_source.h"

namespace fleet::server {

struct AgentServiceOptions {
  // Sent to agents in Welcome; an agent counts as offline after three missed heartbeats.
  absl::Duration heartbeat_interval = absl::Seconds(30);
  // Where the agent API's instruments (agent_metrics.h) are recorded; none: a registry of the
  // service's own. Not owned; outlives the service.
  metrics::Registry* metrics = nullptr;
  // A secret at least this old is rotated on the agent's stream (--credential-max-age); zero:
  // only operators' requests rotate secrets.
  absl::Duration credential_max_age = absl::ZeroDuration();
};

// What the agent API works with from the control layer and the hub; all of it outlives the
// service.
struct AgentControl {
  UpdateSource& updates;
  AgentDirectory& directory;
  AgentStateTracker& state;
  AgentHub& hub;
  // Actions and live queries (agent_protocol.h's AgentProtocolDeps); null: none.
  AgentMailbox* mailbox = nullptr;
  ActionReportSink* actions = nullptr;
  QueryReportSink* queries = nullptr;
};

// Thread-safe.
class AgentService final
    : public v1::AgentService::WithRawMethod_Connect<v1::AgentService::Service> {
 public:
  // `store`, `clock` and `control` must outlive the service, which must outlive the
  // grpc::Server it is registered with.
  AgentService(storage::Store& store, Clock& clock, const AgentControl& control,
               AgentServiceOptions options);

  grpc::Status Enroll(grpc::ServerContext* context, const v1::EnrollRequest* request,
                      v1::EnrollResponse* response) override;
  // Serving Connect streams, in this order: AddQueuesTo(builder) before the server is built,
  // StartServing() once it runs, and StopServing() after it has shut down (it waits for every
  // cancelled stream to end, then drains and shuts down the queues).
  void AddQueuesTo(grpc::ServerBuilder& builder);
  void StartServing();
  void StopServing();

  // Tells every connected agent to go away; call before shutting the server down.
  void GoAway();

 private:
  class ConnectRequest;
  // Asks gRPC for the next Connect call on `queue`.
  void RequestNextConnect(grpc::ServerCompletionQueue* queue);
  // Authenticates an accepted call and starts its session (or ends it, refused).
  void Accept(std::unique_ptr<rpc::AcceptedCall> call);

  Clock& clock_;  // not owned
  const AgentControl control_;
  const AgentServiceOptions options_;
  std::unique_ptr<metrics::Registry> own_metrics_;  // when the options name no registry
  const AgentMetrics metrics_;
  EnrollmentService enrollment_;
  LogRateLimiter refused_streams_;
  // Outlives every session: the service is destroyed only after StopServing.
  CredentialWriter credentials_;
  // Every Connect call, from its request to the end of its session; before pool_, which
  // StopServing shuts down only once it is empty.
  rpc::LiveCalls live_calls_;
  // Between AddQueuesTo and StartServing.
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> new_queues_;
  std::vector<grpc::ServerCompletionQueue*> queues_;
  std::unique_ptr<rpc::CqPool> pool_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_AGENT_SERVICE_H_
