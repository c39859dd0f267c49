#include "rpc/live_calls.h"

namespace fleet::rpc {

LiveCalls::Entry::Entry(LiveCalls& calls) : calls_(calls) {
  absl::MutexLock lock(&calls_.mu_);
  ++calls_.live_;
}

LiveCalls::Entry::~Entry() {
  absl::MutexLock lock(&calls_.mu_);
  --calls_.live_;
}

int64_t LiveCalls::AwaitNone(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](int64_t* live) { return *live == 0; }, &live_),
                       timeout);
  return live_;
}

int64_t LiveCalls::count() const {
  absl::MutexLock lock(&mu_);
  return live_;
}

}  // namespace fleet::rpc
