// What fleetd's async server streams (async_server_stream.h) and its agents' async client streams
// (async_client_stream.h) share: a completion-queue tag per kind of operation (cq_pool.h), each
// operation counted while in flight (op_counter.h), and one end of the stream: once its Finish
// has completed and every other operation has completed and had its callback return.
#ifndef FLEETD_RPC_ASYNC_STREAM_H_
#define FLEETD_RPC_ASYNC_STREAM_H_

#include "rpc/cq_pool.h"
#include "rpc/op_counter.h"

namespace fleet::rpc {

// Thread-safe: operations may be started and may complete on any thread.
class AsyncStream {
 public:
  virtual ~AsyncStream() = default;
  AsyncStream(const AsyncStream&) = delete;
  AsyncStream& operator=(const AsyncStream&) = delete;

 protected:
  // Every kind of operation either side of a bidi stream starts; a side uses the ones it needs.
  enum class OpKind { kStart, kRead, kWrite, kWritesDone, kFinish };

  AsyncStream() = default;

  // Counts an operation of `kind` as started and returns the tag to hand gRPC for it. At most one
  // operation of each kind may be in flight.
  CqTag* BeginOp(OpKind kind);

  // An operation of `kind` completed with `ok`, on the queue's thread. Operations it starts (a
  // Finish, the next read) are counted before this one ends, so the stream cannot end under it.
  virtual void OnOpDone(OpKind kind, bool ok) = 0;
  // Last, exactly once: the Finish and every other operation have completed and their
  // OnOpDone returned. The object may be destroyed in it.
  virtual void OnStreamDone() = 0;

 private:
  // A tag knows its kind by its place in ops_, which keeps it to two words: every stream holds
  // five, and fleetd and agent-sim each hold up to 100,000 streams.
  class Op final : public CqTag {
   public:
    explicit Op(AsyncStream& stream) : stream_(stream) {}
    void Done(bool ok) override { stream_.Complete(*this, ok); }

   private:
    AsyncStream& stream_;
  };

  void Complete(const Op& op, bool ok);

  // In OpKind's order: ops_[kind] is the tag of `kind`.
  Op ops_[5] = {Op(*this), Op(*this), Op(*this), Op(*this), Op(*this)};
  OpCounter in_flight_;
};

}  // namespace fleet::rpc

#endif  // FLEETD_RPC_ASYNC_STREAM_H_
