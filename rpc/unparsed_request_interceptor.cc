#include "rpc/unparsed_request_interceptor.h"

#include <grpcpp/support/status.h>

#include <algorithm>
#include <utility>

#include "google/protobuf/descriptor.h"

namespace fleet::rpc {
namespace {

using grpc::experimental::InterceptionHookPoints;

class UnparsedRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit UnparsedRequestInterceptor(std::string method) : method_(std::move(method)) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unparsed_ = true;
    }
    if (unparsed_ && methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      // Only gRPC's own answer to the failed parse: the handler never ran.
      if (status.error_code() == grpc::StatusCode::INTERNAL) {
        methods->ModifySendStatus(
            grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, UnparsedRequestMessage(method_)));
      }
    }
    methods->Proceed();
  }

 private:
  const std::string method_;
  bool unparsed_ = false;  // hook points of one call come one after the other
};

class UnparsedRequestFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    using Type = grpc::experimental::ServerRpcInfo::Type;
    if (info->type() != Type::UNARY && info->type() != Type::SERVER_STREAMING) return nullptr;
    return new UnparsedRequestInterceptor(info->method() == nullptr ? "" : info->method());
  }
};

}  // namespace

std::string UnparsedRequestMessage(const std::string& method) {
  // "/fleet.v1.AdminService/ApplyPolicy" is "fleet.v1.AdminService.ApplyPolicy" to protobuf.
  std::string full_name = method.starts_with('/') ? method.substr(1) : method;
  std::replace(full_name.begin(), full_name.end(), '/', '.');
  const google::protobuf::MethodDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full_name);
  if (descriptor == nullptr) {
    return "the request does not parse: a string field is not UTF-8, or the bytes are not the "
           "message the method takes";
  }
  return "the request is not a valid " + descriptor->input_type()->full_name() +
         ": a string field is not UTF-8, or the bytes are not that message";
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewUnparsedRequestInterceptorFactory() {
  return std::make_unique<UnparsedRequestFactory>();
}

}  // namespace fleet::rpc
