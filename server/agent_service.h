// fleet.v1.AgentService (proto/fleet/v1/agent.proto), the API agents call. Enroll is served on
// the sync API: each call waits on one durable store write, which the sync server's thread pool
// is for. Connect, the long-lived stream, is not served yet (gRPC answers UNIMPLEMENTED).
#ifndef FLEETD_SERVER_AGENT_SERVICE_H_
#define FLEETD_SERVER_AGENT_SERVICE_H_

#include "fleet/v1/agent.grpc.pb.h"
#include "server/enrollment_service.h"

namespace fleet::server {

// Thread-safe.
class AgentService final : public v1::AgentService::Service {
 public:
  // `store` and `clock` must outlive every call: shut the grpc::Server down first.
  AgentService(storage::Store& store, Clock& clock) : enrollment_(store, clock) {}

  grpc::Status Enroll(grpc::ServerContext* context, const v1::EnrollRequest* request,
                      v1::EnrollResponse* response) override;

 private:
  EnrollmentService enrollment_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_SERVICE_H_
