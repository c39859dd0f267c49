#include "server/admin_service.h"

#include <utility>

namespace fleet::server {

AdminService::AdminService(storage::Store& store, std::string store_backend)
    : store_(store), store_backend_(std::move(store_backend)) {}

grpc::ServerUnaryReactor* AdminService::Version(grpc::CallbackServerContext* context,
                                                const v1::VersionRequest* /*request*/,
                                                v1::VersionResponse* response) {
  response->set_server_version(FLEETD_VERSION);
  response->set_store_revision(store_.CurrentRevision());
  response->set_store_backend(store_backend_);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace fleet::server
