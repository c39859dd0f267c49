#include "storage/reflector.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/random/random.h"
#include "common/log_fields.h"
#include "spdlog/spdlog.h"
#include "storage/errors.h"

namespace fleet::storage {

Reflector::Reflector(Store& store, ReflectorHandler& handler, ReflectorOptions options)
    : store_(store), handler_(handler), options_(std::move(options)) {
  thread_ = std::thread([this] { Run(); });
}

Reflector::~Reflector() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (watcher_ != nullptr) watcher_->Cancel();
  }
  thread_.join();
}

bool Reflector::stopping() {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

bool Reflector::synced() {
  absl::MutexLock lock(&mu_);
  return synced_;
}

bool Reflector::WaitSynced(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this] {
    mu_.AssertHeld();
    return synced_ || stopping_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return synced_;
}

int64_t Reflector::restarts() {
  absl::MutexLock lock(&mu_);
  return restarts_;
}

int64_t Reflector::revision() {
  absl::MutexLock lock(&mu_);
  return revision_;
}

bool Reflector::WaitForRevision(int64_t revision, absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this, revision] {
    mu_.AssertHeld();
    return revision_ >= revision || stopping_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return revision_ >= revision;
}

void Reflector::Run() {
  absl::BitGen rng;
  Backoff backoff(options_.backoff, rng);
  while (!stopping()) {
    const absl::Status status = ListAndWatch();
    absl::MutexLock lock(&mu_);
    // A loop that got as far as watching had recovered: this failure starts a new series.
    if (synced_) backoff.Reset();
    synced_ = false;
    if (stopping_) return;
    ++restarts_;
    const absl::Duration wait = IsCompacted(status) ? absl::ZeroDuration() : backoff.Next();
    const std::string error(status.message());
    const std::string code = absl::StatusCodeToString(status.code());
    const std::string retry_in = absl::FormatDuration(wait);
    LogEvent(spdlog::level::warn, "reflector restarting",
             {{"reflector", options_.name},
              {"code", code},
              {"error", error},
              {"retry_in", retry_in},
              {"restarts", restarts_}});
    auto stopping = [this] {
      mu_.AssertHeld();
      return stopping_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), wait);
  }
}

absl::Status Reflector::ListAndWatch() {
  const std::string& list_prefix =
      options_.list_prefix.empty() ? options_.prefix : options_.list_prefix;
  // One page: a consistent snapshot, so that the watch can start exactly after it.
  absl::StatusOr<RangeResult> listing = store_.Range({.prefix = list_prefix});
  if (!listing.ok()) return listing.status();
  absl::StatusOr<std::unique_ptr<Watcher>> watcher =
      store_.Watch(options_.prefix, listing->revision);
  if (!watcher.ok()) return watcher.status();
  handler_.Replace(listing->kvs, listing->revision);
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::OkStatus();
    watcher_ = watcher->get();
    synced_ = true;
    revision_ = listing->revision;
  }
  absl::Status status;
  while (status.ok()) {
    absl::StatusOr<WatchBatch> batch = (*watcher)->Next(options_.poll);
    if (!batch.ok()) {
      status = batch.status();
      break;
    }
    if (!batch->events.empty()) handler_.Apply(*batch);
    absl::MutexLock lock(&mu_);
    revision_ = std::max(revision_, batch->revision);
    if (stopping_) break;
  }
  absl::MutexLock lock(&mu_);
  watcher_ = nullptr;
  return stopping_ ? absl::OkStatus() : status;
}

}  // namespace fleet::storage
