// Live queries across the replicas of a shared store (etcd). The replica a caller runs a query
// on asks its own agents itself (query_router.h); for the targets online through other replicas
// it writes asks at /query_asks/QUERY/REPLICA/PART, under its lease: one per holding replica, or
// more where its targets would not fit in one transaction of the store (each part as many as
// fit). Each replica follows /query_asks/, asks the agents of each part addressed to it as a
// local query of its own (so each part counts against its router's concurrent queries), and
// writes their answers back in batches at /query_results/QUERY/REPLICA/PART/SEQ (at most every
// kRelayFlush, at most kRelayBatchBytes each), under its own lease. The asking replica follows
// /query_results/ and hands the answers to its router as the agents' own. When the query ends
// its asks and results are deleted; when either replica dies, its lease takes its keys along.
//
// Why batched keys and not a connection from replica to replica: the replicas already share the
// store, its leases and its Reflectors; a forwarding RPC would need each replica to reach and
// authenticate every other. A batch of answers costs one etcd write (not one per row or agent),
// and a query's keys live only as long as the query.
#ifndef FLEETD_SERVER_CONTROL_QUERY_RELAY_H_
#define FLEETD_SERVER_CONTROL_QUERY_RELAY_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/control/query_asks.h"
#include "server/control/query_router.h"
#include "server/control/replica_lease.h"
#include "storage/reflector.h"
#include "storage/store.h"

namespace fleet::server {

inline constexpr absl::Duration kRelayFlush = absl::Milliseconds(50);
inline constexpr int64_t kRelayBatchBytes = 256 * 1024;

// Thread-safe.
class QueryRelay final : public QueryForwarder {
 public:
  // `store` (Shared()), `router` and `lease` are not owned and outlive the relay.
  QueryRelay(storage::Store& store, QueryRouter& router, ReplicaLease& lease);
  ~QueryRelay() override;
  QueryRelay(const QueryRelay&) = delete;
  QueryRelay& operator=(const QueryRelay&) = delete;

  // Starts following asks and results. UNAVAILABLE when a first listing took over `timeout`.
  absl::Status Start(absl::Duration timeout);
  // Stops following and ends the queries asked here; call before the router goes.
  void Stop();
  // Whether both followers are current (for readiness).
  bool synced();

  // QueryForwarder.
  absl::Status Forward(const std::string& query_id, const QueryRequest& request,
                       const std::map<std::string, std::vector<std::string>>& by_replica) override;
  void Forget(const std::string& query_id) override;

 private:
  // Follows /query_asks/: the asks addressed to this replica.
  class Asks final : public storage::ReflectorHandler {
   public:
    explicit Asks(QueryRelay& relay) : relay_(relay) {}
    void Replace(const std::vector<storage::KeyValue>& kvs, int64_t revision) override;
    void Apply(const storage::WatchBatch& batch) override;

   private:
    QueryRelay& relay_;
  };
  // Follows /query_results/: the answers to the queries this replica forwarded.
  class Results final : public storage::ReflectorHandler {
   public:
    explicit Results(QueryRelay& relay) : relay_(relay) {}
    void Replace(const std::vector<storage::KeyValue>& kvs, int64_t revision) override;
    void Apply(const storage::WatchBatch& batch) override;

   private:
    QueryRelay& relay_;
  };
  // One part of a query asked here for another replica: the local query and the thread writing
  // back.
  struct Asked {
    AskKey key;
    std::atomic<bool> stop{false};
    std::unique_ptr<RunningQuery> query;  // the pump's; gone when the pump ends
    std::thread pump;
  };

  // A part of an ask addressed to this replica arrived (or was listed): starts it once.
  void StartAsked(const AskKey& key, const storage::KeyValue& kv);
  // The part went (the query ended, or its replica died): stops it and deletes its answers.
  // `name` as in asked_.
  void StopAsked(const std::string& name);
  // Takes the local query's answers and writes them back, until it ends or is stopped.
  void Pump(Asked& asked);
  // Answers to a query forwarded from here.
  void TakeResults(const storage::KeyValue& kv);

  storage::Store& store_;  // not owned
  QueryRouter& router_;    // not owned
  ReplicaLease& lease_;    // not owned
  Asks asks_{*this};
  Results results_{*this};

  absl::Mutex mu_;
  // Queries forwarded from here that have not ended, with the result keys already handed to
  // the router (a listing after a watch error hands them over again).
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> forwarded_
      ABSL_GUARDED_BY(mu_);
  // The parts of queries asked here, by "QUERY/PART".
  absl::flat_hash_map<std::string, std::unique_ptr<Asked>> asked_ ABSL_GUARDED_BY(mu_);

  std::unique_ptr<storage::Reflector> asks_reflector_;
  std::unique_ptr<storage::Reflector> results_reflector_;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_QUERY_RELAY_H_
