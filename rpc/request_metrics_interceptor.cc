#include "rpc/request_metrics_interceptor.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fleet::rpc {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RequestMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RequestMetricsInterceptor(const RequestMetrics& metrics, Clock& clock, std::string method)
      : metrics_(metrics), clock_(clock), method_(std::move(method)), start_(clock.Now()) {}

  ~RequestMetricsInterceptor() override {
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (!recorded_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    // gRPC's codes are absl's, number for number.
    const std::string code_name(absl::StatusCodeToString(static_cast<absl::StatusCode>(code)));
    metrics_.requests.WithLabels({method_, code_name}).Increment();
    metrics_.duration_seconds.WithLabels({method_}).Observe(
        absl::ToDoubleSeconds(clock_.Now() - start_));
  }

  const RequestMetrics metrics_;
  Clock& clock_;  // not owned
  const std::string method_;
  const absl::Time start_;
  bool recorded_ = false;  // hook points of one call come one after the other
};

class RequestMetricsFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  RequestMetricsFactory(RequestMetrics metrics, Clock& clock) : metrics_(metrics), clock_(clock) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    absl::string_view method = info->method() == nullptr ? "" : info->method();
    if (!method.empty() && method.front() == '/') method.remove_prefix(1);
    return new RequestMetricsInterceptor(metrics_, clock_, std::string(method));
  }

 private:
  const RequestMetrics metrics_;
  Clock& clock_;  // not owned
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewRequestMetricsInterceptorFactory(RequestMetrics metrics, Clock& clock) {
  return std::make_unique<RequestMetricsFactory>(metrics, clock);
}

}  // namespace fleet::rpc
