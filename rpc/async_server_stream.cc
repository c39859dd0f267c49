#include "rpc/async_server_stream.h"

#include <utility>

namespace fleet::rpc {

AsyncServerStream::AsyncServerStream(std::unique_ptr<AcceptedCall> call) : call_(std::move(call)) {}

void AsyncServerStream::StartRead(grpc::ByteBuffer* buffer) {
  call_->stream.Read(buffer, BeginOp(OpKind::kRead));
}

void AsyncServerStream::StartWrite(const grpc::ByteBuffer* buffer) {
  call_->stream.Write(*buffer, BeginOp(OpKind::kWrite));
}

void AsyncServerStream::Finish(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    finishing_ = true;
  }
  call_->stream.Finish(status, BeginOp(OpKind::kFinish));
}

void AsyncServerStream::OnOpDone(OpKind kind, bool ok) {
  switch (kind) {
    case OpKind::kRead:
      OnReadDone(ok);
      break;
    case OpKind::kWrite:
      OnWriteDone(ok);
      break;
    case OpKind::kStart:
    case OpKind::kWritesDone:
    case OpKind::kFinish:
      break;
  }
}

}  // namespace fleet::rpc
