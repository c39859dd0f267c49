#include "rpc/async_server_stream.h"

#include <utility>

namespace fleet::rpc {

AsyncServerStream::AsyncServerStream(std::unique_ptr<AcceptedCall> call) : call_(std::move(call)) {}

void AsyncServerStream::StartRead(grpc::ByteBuffer* buffer) {
  ops_.Begin();
  call_->stream.Read(buffer, &read_op_);
}

void AsyncServerStream::StartWrite(const grpc::ByteBuffer* buffer) {
  ops_.Begin();
  call_->stream.Write(*buffer, &write_op_);
}

void AsyncServerStream::Finish(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    finishing_ = true;
  }
  ops_.Begin();
  call_->stream.Finish(status, &finish_op_);
}

void AsyncServerStream::Complete(OpKind kind, bool ok) {
  switch (kind) {
    case OpKind::kRead:
      OnReadDone(ok);
      break;
    case OpKind::kWrite:
      OnWriteDone(ok);
      break;
    case OpKind::kFinish:
      break;
  }
  if (ops_.End(kind == OpKind::kFinish)) OnDone();  // may destroy this: nothing after it
}

}  // namespace fleet::rpc
