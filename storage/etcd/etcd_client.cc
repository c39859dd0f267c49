#include "storage/etcd/etcd_client.h"

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <chrono>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace fleet::storage::etcd {
namespace {

void SetDeadline(grpc::ClientContext& context, absl::Duration timeout) {
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

absl::string_view ToAbsl(std::string_view text) { return {text.data(), text.size()}; }

}  // namespace

std::shared_ptr<grpc::Channel> NewEtcdChannel(const std::string& endpoint, bool own_connection) {
  grpc::ChannelArguments args;
  if (own_connection) args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(endpoint, grpc::InsecureChannelCredentials(), args);
}

absl::Status EtcdCallStatus(const grpc::Status& status, absl::string_view endpoint,
                            absl::string_view call) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("etcd at ", endpoint, ": ", call, ": ", status.error_message()));
}

EtcdClient::EtcdClient(std::string endpoint, EtcdClientOptions options)
    : EtcdClient(NewEtcdChannel(endpoint), endpoint, options) {}

EtcdClient::EtcdClient(std::shared_ptr<grpc::Channel> channel, std::string endpoint,
                       EtcdClientOptions options)
    : endpoint_(std::move(endpoint)),
      options_(options),
      channel_(std::move(channel)),
      stub_(etcdserverpb::KV::NewStub(channel_)),
      maintenance_(etcdserverpb::Maintenance::NewStub(channel_)) {}

absl::StatusOr<int64_t> EtcdClient::Put(std::string_view key, std::string_view value) {
  etcdserverpb::PutRequest request;
  request.set_key(std::string(key));
  request.set_value(std::string(value));
  etcdserverpb::PutResponse response;
  grpc::ClientContext context;
  SetDeadline(context, options_.call_timeout);
  grpc::Status status = stub_->Put(&context, request, &response);
  if (!status.ok()) return EtcdCallStatus(status, endpoint_, "Put");
  return response.header().revision();
}

absl::StatusOr<EtcdValue> EtcdClient::Get(std::string_view key) {
  etcdserverpb::RangeRequest request;
  request.set_key(std::string(key));
  etcdserverpb::RangeResponse response;
  grpc::ClientContext context;
  SetDeadline(context, options_.call_timeout);
  grpc::Status status = stub_->Range(&context, request, &response);
  if (!status.ok()) return EtcdCallStatus(status, endpoint_, "Range");
  if (response.kvs().empty()) {
    return absl::NotFoundError(
        absl::StrCat("etcd at ", endpoint_, ": no key \"", absl::CHexEscape(ToAbsl(key)), "\""));
  }
  const etcdserverpb::KeyValue& kv = response.kvs(0);
  return EtcdValue{.value = kv.value(), .mod_revision = kv.mod_revision()};
}

absl::StatusOr<EtcdMemberStatus> EtcdClient::Status() {
  etcdserverpb::StatusResponse response;
  grpc::ClientContext context;
  SetDeadline(context, options_.call_timeout);
  grpc::Status status = maintenance_->Status(&context, etcdserverpb::StatusRequest(), &response);
  if (!status.ok()) return EtcdCallStatus(status, endpoint_, "Status");
  return EtcdMemberStatus{.member_id = response.header().member_id(),
                          .leader_id = response.leader(),
                          .raft_term = response.raft_term(),
                          .version = response.version()};
}

}  // namespace fleet::storage::etcd
