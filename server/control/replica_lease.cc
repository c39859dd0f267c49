#include "server/control/replica_lease.h"

#include <utility>

#include "common/log_fields.h"
#include "server/model/store_layout.h"
#include "spdlog/spdlog.h"

namespace fleet::server {

absl::StatusOr<std::unique_ptr<ReplicaLease>> ReplicaLease::Start(
    storage::Store& store, record::ReplicaRecord replica, std::function<void()> on_new_lease,
    ReplicaLeaseOptions options) {
  std::unique_ptr<ReplicaLease> lease(
      new ReplicaLease(store, std::move(replica), std::move(on_new_lease), options));
  if (absl::Status s = lease->Register(); !s.ok()) return s;
  lease->thread_ = std::thread([raw = lease.get()] { raw->Run(); });
  return lease;
}

ReplicaLease::ReplicaLease(storage::Store& store, record::ReplicaRecord replica,
                           std::function<void()> on_new_lease, ReplicaLeaseOptions options)
    : store_(store),
      replica_(std::move(replica)),
      options_(options),
      on_new_lease_(std::move(on_new_lease)) {}

ReplicaLease::~ReplicaLease() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (absl::Status s = store_.RevokeLease(lease_.load()); !s.ok()) {
    // It ends by itself within its TTL.
    LogEvent(spdlog::level::warn, "store error",
             {{"op", "revoke the replica's lease"}, {"error", std::string(s.message())}});
  }
}

absl::Status ReplicaLease::Register() {
  absl::StatusOr<int64_t> lease = store_.GrantLease(options_.ttl);
  if (!lease.ok()) return lease.status();
  record::ReplicaRecord replica = replica_;
  absl::StatusOr<storage::TxnResult> put =
      store_.Txn({.success = {storage::Op::PutWithLease(layout::ReplicaKey(replica_.id()),
                                                        replica.SerializeAsString(), *lease)}});
  if (!put.ok()) return put.status();
  lease_.store(*lease);
  return absl::OkStatus();
}

void ReplicaLease::Run() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    auto stopping = [this] {
      mu_.AssertHeld();
      return stopping_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&stopping), options_.renew_every);
    if (stopping_) break;
    mu_.Unlock();
    absl::Status renewed = store_.KeepAliveLease(lease_.load());
    if (absl::IsNotFound(renewed)) {
      LogEvent(spdlog::level::warn, "replica lease lost",
               {{"replica", replica_.id()}, {"error", std::string(renewed.message())}});
      renewed = Register();
      if (renewed.ok() && on_new_lease_) on_new_lease_();
    }
    if (!renewed.ok()) {
      // Tried again at the next renewal; meanwhile the lease runs down.
      LogEvent(spdlog::level::warn, "store error",
               {{"op", "renew the replica's lease"}, {"error", std::string(renewed.message())}});
    }
    mu_.Lock();
  }
}

}  // namespace fleet::server
