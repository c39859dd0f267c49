// A client-side bidi stream of raw messages on gRPC's async API (see cq_pool.h for why not the
// callback API), the counterpart of async_server_stream.h and shaped like grpc::ClientBidiReactor:
// StartCall, StartRead, StartWrite and StartWritesDone start operations; OnStartDone, OnReadDone,
// OnWriteDone, OnWritesDoneDone and finally OnDone(status) report them, on the thread of the
// stream's completion queue. Operations never complete inline.
#ifndef FLEETD_RPC_ASYNC_CLIENT_STREAM_H_
#define FLEETD_RPC_ASYNC_CLIENT_STREAM_H_

#include <grpcpp/client_context.h>
#include <grpcpp/completion_queue.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include <memory>
#include <string>

#include "rpc/async_stream.h"

namespace fleet::rpc {

// Rules, as for the reactor: StartCall once, after setting up context(); after OnStartDone(true),
// at most one read and one write in flight, StartWritesDone at most once with no write in flight.
// The stream collects the call's status itself (its Finish) once the call failed to start or a
// read failed, so a caller that wants the end keeps a read in flight until one fails (TryCancel
// makes it fail). OnDone comes last, once every operation has completed and its callback
// returned; the object may be destroyed in it.
class AsyncClientStream : public AsyncStream {
 public:
  // Thread-safe: ends the call soon; operations in flight complete with ok = false.
  void TryCancel() { context_.TryCancel(); }

 protected:
  AsyncClientStream() = default;

  // For metadata and call options, before StartCall.
  grpc::ClientContext& context() { return context_; }

  // Starts a call of `method` ("/package.Service/Method") on `stub`'s channel, whose operations
  // complete on `queue` (which must outlive the stream and be drained, as rpc::CqPool's are).
  void StartCall(grpc::GenericStub& stub, const std::string& method, grpc::CompletionQueue* queue);
  // `buffer` must stay put until OnReadDone; it holds the message when that says ok.
  void StartRead(grpc::ByteBuffer* buffer);
  // `buffer` must stay put until OnWriteDone.
  void StartWrite(const grpc::ByteBuffer* buffer);
  // Half-closes: the server's reads end once the writes before it are in.
  void StartWritesDone();

  // ok = false: the call did not start (cancelled, or the channel gave up); start nothing more.
  virtual void OnStartDone(bool ok) = 0;
  // ok = false: no more messages (the server ended the call, or it broke).
  virtual void OnReadDone(bool ok) = 0;
  // ok = false: the message did not go out, and nothing more will.
  virtual void OnWriteDone(bool ok) = 0;
  virtual void OnWritesDoneDone(bool ok) = 0;
  // The call's status: the server's, or CANCELLED after TryCancel, or what the channel saw.
  virtual void OnDone(const grpc::Status& status) = 0;

 private:
  void OnOpDone(OpKind kind, bool ok) final;
  void OnStreamDone() final { OnDone(status_); }
  // Starts the Finish that collects the status.
  void CollectStatus();

  // Declared before call_, which lives in the call's arena and must go first.
  grpc::ClientContext context_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  // Filled in by Finish.
  grpc::Status status_;
};

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_ASYNC_CLIENT_STREAM_H_
