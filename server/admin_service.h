// fleet.v1.AdminService (proto/fleet/v1/admin.proto) on gRPC's callback API. For now it answers
// Version only; policies, tokens and agents join it later.
#ifndef FLEETD_SERVER_ADMIN_SERVICE_H_
#define FLEETD_SERVER_ADMIN_SERVICE_H_

#include <string>

#include "fleet/v1/admin.grpc.pb.h"
#include "storage/store.h"

namespace fleet::server {

// Thread-safe: gRPC calls the handlers concurrently. Handlers never block.
class AdminService final : public v1::AdminService::CallbackService {
 public:
  // `store` must outlive every call: shut the grpc::Server down before destroying it.
  // `store_backend` names the store's backend in VersionResponse ("rocksdb", "memory", ...).
  AdminService(storage::Store& store, std::string store_backend);

  // Answers with the build version (FLEETD_VERSION), the store's current revision and its
  // backend. Always OK.
  grpc::ServerUnaryReactor* Version(grpc::CallbackServerContext* context,
                                    const v1::VersionRequest* request,
                                    v1::VersionResponse* response) override;

 private:
  storage::Store& store_;  // not owned; outlives the server (see the constructor)
  const std::string store_backend_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_ADMIN_SERVICE_H_
