#include "rpc/async_client_stream.h"

namespace fleet::rpc {

void AsyncClientStream::StartCall(grpc::GenericStub& stub, const std::string& method,
                                  grpc::CompletionQueue* queue) {
  call_ = stub.PrepareCall(&context_, method, queue);
  call_->StartCall(BeginOp(OpKind::kStart));
}

void AsyncClientStream::StartRead(grpc::ByteBuffer* buffer) {
  call_->Read(buffer, BeginOp(OpKind::kRead));
}

void AsyncClientStream::StartWrite(const grpc::ByteBuffer* buffer) {
  call_->Write(*buffer, BeginOp(OpKind::kWrite));
}

void AsyncClientStream::StartWritesDone() { call_->WritesDone(BeginOp(OpKind::kWritesDone)); }

void AsyncClientStream::CollectStatus() { call_->Finish(&status_, BeginOp(OpKind::kFinish)); }

void AsyncClientStream::OnOpDone(OpKind kind, bool ok) {
  switch (kind) {
    case OpKind::kStart:
      OnStartDone(ok);
      if (!ok) CollectStatus();
      break;
    case OpKind::kRead:
      OnReadDone(ok);
      if (!ok) CollectStatus();
      break;
    case OpKind::kWrite:
      OnWriteDone(ok);
      break;
    case OpKind::kWritesDone:
      OnWritesDoneDone(ok);
      break;
    case OpKind::kFinish:
      break;
  }
}

}  // namespace fleet::rpc
