#include "server/async_server_stream.h"

#include <utility>

namespace fleet::server {

AsyncServerStream::AsyncServerStream(std::unique_ptr<AcceptedCall> call) : call_(std::move(call)) {}

void AsyncServerStream::Begin() {
  absl::MutexLock lock(&mu_);
  ++outstanding_;
}

void AsyncServerStream::StartRead(grpc::ByteBuffer* buffer) {
  Begin();
  call_->stream.Read(buffer, &read_op_);
}

void AsyncServerStream::StartWrite(const grpc::ByteBuffer* buffer) {
  Begin();
  call_->stream.Write(*buffer, &write_op_);
}

void AsyncServerStream::Finish(const grpc::Status& status) {
  {
    absl::MutexLock lock(&mu_);
    if (finishing_) return;
    finishing_ = true;
    ++outstanding_;
  }
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
  bool done = false;
  {
    absl::MutexLock lock(&mu_);
    if (kind == OpKind::kFinish) finish_done_ = true;
    done = --outstanding_ == 0 && finish_done_;
  }
  if (done) OnDone();  // may destroy this: nothing after it
}

}  // namespace fleet::server
