#include "server/app/store_compactor.h"

#include <string>

#include "common/log_fields.h"
#include "spdlog/spdlog.h"

namespace fleet::server {

StoreCompactor::StoreCompactor(storage::Store& store, CompactorOptions options)
    : store_(store), options_(options), thread_([this] { Run(); }) {}

StoreCompactor::~StoreCompactor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

absl::Status StoreCompactor::CompactNow() {
  const int64_t target = store_.CurrentRevision() - options_.retain_revisions;
  if (target <= store_.CompactRevision()) return absl::OkStatus();
  return store_.Compact(target);
}

void StoreCompactor::Run() {
  absl::MutexLock lock(&mu_);
  auto stopping = [this] {
    mu_.AssertHeld();
    return stopping_;
  };
  while (!mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.interval)) {
    mu_.Unlock();
    // A failed compaction is retried next interval; nothing is lost, but the operator should
    // know that the log grows.
    if (absl::Status compacted = CompactNow(); !compacted.ok()) {
      const std::string error(compacted.message());
      LogEvent(spdlog::level::warn, "store error", {{"op", "compact"}, {"error", error}});
    }
    mu_.Lock();
  }
}

}  // namespace fleet::server
