#include "rpc/async_stream.h"

namespace fleet::rpc {

CqTag* AsyncStream::BeginOp(OpKind kind) {
  in_flight_.Begin();
  return &ops_[static_cast<int>(kind)];
}

void AsyncStream::Complete(const Op& op, bool ok) {
  const auto kind = static_cast<OpKind>(&op - ops_);
  OnOpDone(kind, ok);
  if (in_flight_.End(kind == OpKind::kFinish)) OnStreamDone();  // may destroy this: nothing after
}

}  // namespace fleet::rpc
