// A Store that fails on demand, for tests of whatever must survive a store's failures: watches
// that break mid-stream (with any error, Compacted included) and a store that is unavailable for
// a while. Built on StoreWrapper, so everything not overridden is the wrapped store's.
#ifndef FLEETD_TESTS_TESTING_FAULT_INJECTING_STORE_H_
#define FLEETD_TESTS_TESTING_FAULT_INJECTING_STORE_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "storage/errors.h"
#include "storage/store_wrapper.h"

namespace fleet::testing {

// Thread-safe.
class FaultInjectingStore final : public storage::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;

  // Every watcher open now returns `error` from its next Next on (as a broken connection, or
  // the Compacted error, would). Watchers started later are not affected.
  void BreakWatches(absl::Status error) {
    absl::MutexLock lock(&mu_);
    ++break_generation_;
    break_error_ = std::move(error);
  }

  // While on, every read, write and new watch fails with UNAVAILABLE.
  void SetUnavailable(bool unavailable) {
    absl::MutexLock lock(&mu_);
    unavailable_ = unavailable;
  }

  // The watch failures every follower of a store must survive, by name, for parameterized tests.
  static std::vector<std::string> WatchFaults() {
    return {"brokenwatch", "compacted", "unavailable"};
  }

  // Breaks every open watch as `fault` (one of WatchFaults()) says: with a connection error; with
  // Compacted after compacting the store underneath; or with UNAVAILABLE, the store then staying
  // unavailable until SetUnavailable(false).
  absl::Status InjectWatchFault(const std::string& fault) {
    if (fault == "brokenwatch") {
      BreakWatches(absl::InternalError("injected: connection reset"));
    } else if (fault == "compacted") {
      const int64_t revision = target().CurrentRevision();
      if (absl::Status s = target().Compact(revision); !s.ok()) return s;
      BreakWatches(storage::CompactedError(0, revision));
    } else if (fault == "unavailable") {
      SetUnavailable(true);
      BreakWatches(absl::UnavailableError("injected: store down"));
    } else {
      return absl::InvalidArgumentError("unknown watch fault " + fault);
    }
    return absl::OkStatus();
  }

  // How many watches were started successfully.
  int64_t watches_started() {
    absl::MutexLock lock(&mu_);
    return watches_started_;
  }

  absl::StatusOr<std::optional<storage::KeyValue>> Get(std::string_view key) override {
    if (absl::Status s = Available(); !s.ok()) return s;
    return StoreWrapper::Get(key);
  }
  absl::StatusOr<storage::RangeResult> Range(const storage::RangeRequest& request) override {
    if (absl::Status s = Available(); !s.ok()) return s;
    return StoreWrapper::Range(request);
  }
  absl::StatusOr<storage::TxnResult> Txn(const storage::TxnRequest& request) override {
    if (absl::Status s = Available(); !s.ok()) return s;
    return StoreWrapper::Txn(request);
  }
  absl::Status PutState(const std::vector<std::pair<std::string, std::string>>& puts,
                        const std::vector<std::string>& deletes) override {
    if (absl::Status s = Available(); !s.ok()) return s;
    return StoreWrapper::PutState(puts, deletes);
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RangeState(
      std::string_view prefix) override {
    if (absl::Status s = Available(); !s.ok()) return s;
    return StoreWrapper::RangeState(prefix);
  }
  absl::StatusOr<std::unique_ptr<storage::Watcher>> Watch(std::string_view prefix,
                                                          int64_t after_revision) override {
    if (absl::Status s = Available(); !s.ok()) return s;
    absl::StatusOr<std::unique_ptr<storage::Watcher>> inner =
        StoreWrapper::Watch(prefix, after_revision);
    if (!inner.ok()) return inner.status();
    absl::MutexLock lock(&mu_);
    ++watches_started_;
    return std::make_unique<FaultyWatcher>(*this, *std::move(inner), break_generation_);
  }

 private:
  // Fails once the store's break generation moved past the one it started in.
  class FaultyWatcher final : public storage::Watcher {
   public:
    FaultyWatcher(FaultInjectingStore& store, std::unique_ptr<storage::Watcher> inner,
                  int64_t generation)
        : store_(store), inner_(std::move(inner)), generation_(generation) {}

    absl::StatusOr<storage::WatchBatch> Next(absl::Duration timeout) override {
      if (absl::Status broken = store_.BrokenSince(generation_); !broken.ok()) return broken;
      return inner_->Next(timeout);
    }
    void Cancel() override { inner_->Cancel(); }

   private:
    FaultInjectingStore& store_;  // not owned; outlives its watchers in tests
    const std::unique_ptr<storage::Watcher> inner_;
    const int64_t generation_;
  };

  absl::Status Available() {
    absl::MutexLock lock(&mu_);
    return unavailable_ ? absl::UnavailableError("injected: the store is unavailable")
                        : absl::OkStatus();
  }
  absl::Status BrokenSince(int64_t generation) {
    absl::MutexLock lock(&mu_);
    return break_generation_ > generation ? break_error_ : absl::OkStatus();
  }

  absl::Mutex mu_;
  bool unavailable_ ABSL_GUARDED_BY(mu_) = false;
  int64_t break_generation_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Status break_error_ ABSL_GUARDED_BY(mu_);
  int64_t watches_started_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_FAULT_INJECTING_STORE_H_
