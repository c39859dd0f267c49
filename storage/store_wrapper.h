// A Store that forwards every call to another one: derive from it and override what you want to
// change (a fault-injecting store in tests, later metrics or tracing), in the style of LevelDB's
// EnvWrapper.
#ifndef FLEETD_STORAGE_STORE_WRAPPER_H_
#define FLEETD_STORAGE_STORE_WRAPPER_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/store.h"

namespace fleet::storage {

// Thread-safe as the wrapped store is.
class StoreWrapper : public Store {
 public:
  // `target` is not owned and outlives the wrapper.
  explicit StoreWrapper(Store& target) : target_(target) {}

  absl::StatusOr<std::optional<KeyValue>> Get(std::string_view key) override {
    return target_.Get(key);
  }
  absl::StatusOr<RangeResult> Range(const RangeRequest& request) override {
    return target_.Range(request);
  }
  absl::StatusOr<TxnResult> Txn(const TxnRequest& request) override { return target_.Txn(request); }
  absl::StatusOr<std::unique_ptr<Watcher>> Watch(std::string_view prefix,
                                                 int64_t after_revision) override {
    return target_.Watch(prefix, after_revision);
  }
  absl::Status Compact(int64_t revision) override { return target_.Compact(revision); }
  int64_t CurrentRevision() override { return target_.CurrentRevision(); }
  int64_t CompactRevision() override { return target_.CompactRevision(); }
  absl::Status PutState(const std::vector<std::pair<std::string, std::string>>& puts,
                        const std::vector<std::string>& deletes) override {
    return target_.PutState(puts, deletes);
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> RangeState(
      std::string_view prefix) override {
    return target_.RangeState(prefix);
  }
  bool Shared() const override { return target_.Shared(); }
  size_t MaxTxnOps() const override { return target_.MaxTxnOps(); }
  size_t MaxTxnBytes() const override { return target_.MaxTxnBytes(); }
  absl::StatusOr<int64_t> GrantLease(absl::Duration ttl) override {
    return target_.GrantLease(ttl);
  }
  absl::Status KeepAliveLease(int64_t lease) override { return target_.KeepAliveLease(lease); }
  absl::Status RevokeLease(int64_t lease) override { return target_.RevokeLease(lease); }

 protected:
  Store& target() { return target_; }

 private:
  Store& target_;  // not owned
};

}  // namespace fleet::storage

#endif  // FLEETD_STORAGE_STORE_WRAPPER_H_
