#include "server/agent_service.h"

#include "server/grpc_status.h"

namespace fleet::server {

grpc::Status AgentService::Enroll(grpc::ServerContext*, const v1::EnrollRequest* request,
                                  v1::EnrollResponse* response) {
  absl::StatusOr<v1::EnrollResponse> enrolled = enrollment_.Enroll(*request);
  if (!enrolled.ok()) return ToGrpcStatus(enrolled.status());
  *response = *std::move(enrolled);
  return grpc::Status::OK;
}

}  // namespace fleet::server
