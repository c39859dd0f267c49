// A fleetd replica's place in a shared store (several replicas on one etcd cluster): one lease
// for the whole replica (never one per agent), the replica's record at /replicas/ID under it, and
// a thread that keeps the lease alive. Everything the replica writes that must vanish when it
// dies (its agents' session records, session_share.h) goes under this lease; when the replica
// stops or dies, etcd deletes it all once the lease ends, and the other replicas see the agents
// go offline.
//
// Should the lease end while the replica runs (a pause longer than the TTL, a partition), the
// thread grants a new one, registers again and calls `on_new_lease` (given to Start), so that
// what went with the old lease is written again under the new one.
#ifndef FLEETD_SERVER_CONTROL_REPLICA_LEASE_H_
#define FLEETD_SERVER_CONTROL_REPLICA_LEASE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/model/records.pb.h"
#include "storage/store.h"

namespace fleet::server {

struct ReplicaLeaseOptions {
  // How long the replica's records outlive it: its agents show offline elsewhere this long
  // after it dies.
  absl::Duration ttl = absl::Seconds(10);
  // How often the lease is renewed; a third of the TTL leaves two renewals to fail first.
  absl::Duration renew_every = absl::Seconds(3);
};

// Thread-safe.
class ReplicaLease {
 public:
  // Grants the lease and writes `replica` (its id must be set) at /replicas/ID under it, then
  // keeps it alive. `on_new_lease` (may be empty) is called on the renewing thread after the
  // lease was lost and a new one registered. `store` (Shared()) is not owned and outlives this.
  // Errors are the store's.
  static absl::StatusOr<std::unique_ptr<ReplicaLease>> Start(storage::Store& store,
                                                             record::ReplicaRecord replica,
                                                             std::function<void()> on_new_lease,
                                                             ReplicaLeaseOptions options = {});
  // Stops renewing and revokes the lease: the replica's records go at once.
  ~ReplicaLease();
  ReplicaLease(const ReplicaLease&) = delete;
  ReplicaLease& operator=(const ReplicaLease&) = delete;

  // The lease to write under now.
  int64_t lease() const { return lease_.load(); }
  const std::string& id() const { return replica_.id(); }

 private:
  ReplicaLease(storage::Store& store, record::ReplicaRecord replica,
               std::function<void()> on_new_lease, ReplicaLeaseOptions options);
  // Grants a lease and registers the replica under it.
  absl::Status Register();
  void Run();

  storage::Store& store_;  // not owned
  const record::ReplicaRecord replica_;
  const ReplicaLeaseOptions options_;
  std::atomic<int64_t> lease_{0};
  const std::function<void()> on_new_lease_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_REPLICA_LEASE_H_
