// A server-side bidi stream of raw messages on gRPC's async API (see cq_pool.h for why not the
// callback API), shaped like grpc::ServerBidiReactor so that a session reads as one: StartRead,
// StartWrite and Finish start operations; OnReadDone, OnWriteDone and finally OnDone report them,
// on the thread of the stream's completion queue. Operations never complete inline.
#ifndef FLEETD_RPC_ASYNC_SERVER_STREAM_H_
#define FLEETD_RPC_ASYNC_SERVER_STREAM_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/async_stream.h>
#include <grpcpp/support/byte_buffer.h>

#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "rpc/async_stream.h"
#include "rpc/live_calls.h"

namespace fleet::rpc {

// A call that gRPC has accepted (the RequestConnect of an async service completed): its context
// and stream, which live as long as the call, counted among the service's live calls until it is
// destroyed (so that its queue shuts down only after that).
struct AcceptedCall {
  explicit AcceptedCall(LiveCalls& live) : live(live) {}

  // First, so that it is destroyed last.
  const LiveCalls::Entry live;
  grpc::ServerContext context;
  grpc::ServerAsyncReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer> stream{&context};
};

// Rules, as for the reactor: at most one read and one write in flight; Finish once, with no
// write in flight (a read may still be pending: it then ends with ok = false). OnDone comes last,
// once Finish and every operation have completed and their callbacks returned; the object may be
// destroyed in it.
class AsyncServerStream : public AsyncStream {
 public:
  const grpc::ServerContext& context() const { return call_->context; }

 protected:
  explicit AsyncServerStream(std::unique_ptr<AcceptedCall> call);

  void StartRead(grpc::ByteBuffer* buffer);
  void StartWrite(const grpc::ByteBuffer* buffer);
  void Finish(const grpc::Status& status);

  virtual void OnReadDone(bool ok) = 0;
  virtual void OnWriteDone(bool ok) = 0;
  virtual void OnDone() = 0;

 private:
  void OnOpDone(OpKind kind, bool ok) final;
  void OnStreamDone() final { OnDone(); }

  const std::unique_ptr<AcceptedCall> call_;
  absl::Mutex mu_;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_ASYNC_SERVER_STREAM_H_
