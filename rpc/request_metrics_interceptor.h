// Counts a server's calls by method and final status, and times them: a server interceptor, so
// that no handler has to. The status is the one sent (after any interceptor before this one
// changed it); a call that ends without sending one (cancelled) counts as CANCELLED. The time is
// from the call's start to its status, the whole life of a streaming call.
#ifndef FLEETD_RPC_REQUEST_METRICS_INTERCEPTOR_H_
#define FLEETD_RPC_REQUEST_METRICS_INTERCEPTOR_H_

#include <grpcpp/support/server_interceptor.h>

#include <memory>

#include "common/clock.h"
#include "common/metrics/registry.h"

namespace fleet::rpc {

// Where the calls are recorded; the families outlive every server that uses the interceptor.
struct RequestMetrics {
  // Labels method ("fleet.v1.AdminService/ApplyPolicy") and code ("OK", "NOT_FOUND").
  metrics::Family<metrics::Counter>& requests;
  // Label method.
  metrics::Family<metrics::Histogram>& duration_seconds;
};

// For ServerBuilder::experimental().SetInterceptorCreators; install it after the interceptors
// whose status changes it should see. `clock` outlives the servers. Thread-safe.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewRequestMetricsInterceptorFactory(RequestMetrics metrics, Clock& clock);

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_REQUEST_METRICS_INTERCEPTOR_H_
