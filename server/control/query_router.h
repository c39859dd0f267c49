// Live queries (admin.proto RunQuery, agent.proto "Live queries"): the router asks the targets
// online when a query starts, with one AgentQuery posted to them through the AgentMailbox (one
// serialization, expiring at the deadline), and hands what they answer (QueryReportSink, on the
// agent streams' completion-queue threads) to the caller through the query's bounded buffer.
//
// A query is ephemeral: nothing of it is in the store. It ends when every asked target sent its
// last result, at its deadline, or when its caller lets go of it (RunningQuery's destructor);
// then its mail leaves the mailbox and later results are dropped, as are results from agents it
// did not ask, of queries it does not know, and after an agent's last.
//
// Limits (QueryLimits, fleetd's flags): how many queries run at once (beyond: RESOURCE_EXHAUSTED),
// how many rows one agent's answer may hold (beyond: the rows are cut and marked truncated), and
// how many bytes of results a query may hold that its caller has not taken yet (beyond: the
// results' rows are dropped and marked truncated, so that a slow caller costs bounded memory).
#ifndef FLEETD_SERVER_CONTROL_QUERY_ROUTER_H_
#define FLEETD_SERVER_CONTROL_QUERY_ROUTER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "fleet/v1/admin.pb.h"
#include "server/control/agent_mailbox.h"
#include "server/control/agent_reports.h"
#include "server/control/agent_state.h"

namespace fleet::server {

struct QueryLimits {
  // Queries running at once (--max-concurrent-queries).
  int64_t max_concurrent = 500;
  // Rows kept of one agent's answer, over all its results (--query-max-rows-per-agent).
  int64_t max_rows_per_agent = 10'000;
  // Bytes of results one query holds that its caller has not taken (--query-max-bytes).
  int64_t max_bytes = int64_t{64} << 20;
};

struct QueryTarget {
  std::string agent_id;
  std::string hostname;
};

struct QueryRequest {
  // Already checked (1 byte to 16 KiB of UTF-8).
  std::string text;
  // Distinct agents; the summary lists ids in id order whatever the order here.
  std::vector<QueryTarget> targets;
  absl::Time deadline;
  // Whether targets online through other replicas of a shared store are asked through them
  // (false for a query another replica forwarded here).
  bool forward = true;
};

// On a shared store: asks the replicas that hold some of a query's targets to ask them, and
// hands their answers to the router as the agents' own (query_relay.h).
class QueryForwarder {
 public:
  virtual ~QueryForwarder() = default;
  // Asks each replica of `by_replica` to ask its agents `request`'s query `query_id`. Errors
  // are the store's; the targets then stay unanswered.
  virtual absl::Status Forward(
      const std::string& query_id, const QueryRequest& request,
      const std::map<std::string, std::vector<std::string>>& by_replica) = 0;
  // The query ended: its asks and their answers go.
  virtual void Forget(const std::string& query_id) = 0;
};

class QueryRouter;

// One running query, held by its caller; thread-safe (the caller's thread reads it while agent
// streams report to it). Destroying it ends the query if it has not ended (the caller went away:
// a cancel), removes its mail and frees its place among the concurrent queries.
class RunningQuery {
 public:
  ~RunningQuery();
  RunningQuery(const RunningQuery&) = delete;
  RunningQuery& operator=(const RunningQuery&) = delete;

  // What Take hands the caller.
  struct Taken {
    // Results in the order they came (each one QueryResult of one agent, cut to the limits).
    std::vector<v1::QueryRows> rows;
    v1::QueryProgress progress;
    // The query ended and every result was taken: only the summary is left.
    bool ended = false;
  };

  const std::string& id() const { return id_; }
  // The counts now.
  v1::QueryProgress Progress();

  // Waits until results wait to be taken, the query ends, or `timeout` passes; then, once results
  // wait, up to `gather` more for others to join them (until about `max_bytes` wait, or half the
  // query's bytes limit, or the query ends), so that a fleet answering at once is taken in a few
  // batches rather than one result at a time. Then takes up to about `max_bytes` of the waiting
  // results (at least one). Ends the query when its deadline has come. One caller at a time.
  Taken Take(absl::Duration timeout, int64_t max_bytes = int64_t{4} << 20,
             absl::Duration gather = absl::ZeroDuration());

  // Where the query stands: final once Take said `ended`. timed_out when the deadline came
  // before every asked target answered; interrupted when the router's Interrupt ended it.
  v1::QuerySummary Summary();

 private:
  friend class QueryRouter;
  enum class TargetState : uint8_t { kOffline, kPending, kAnswered };
  struct Target {
    QueryTarget target;
    TargetState state = TargetState::kOffline;
    bool error = false;
    // Rows kept of this agent's answer so far.
    int64_t rows = 0;
    // A result of it lost rows to the bytes limit: later ones are marked, not kept.
    bool dropped = false;
  };

  RunningQuery(QueryRouter& router, Clock& clock, std::string id, absl::Time deadline,
               const QueryLimits& limits);

  // Takes one agent's result (the router checked that the query knows the agent).
  void Report(const std::string& agent_id, const v1::QueryResult& result) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the query (if it was running) when the deadline has come.
  void CheckDeadline() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::QueryProgress ProgressLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Readable() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Enough waits for Take to stop gathering: gather_bytes_ of results, or the query ended.
  bool Gathered() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  QueryRouter& router_;  // not owned; outlives the query
  Clock& clock_;         // not owned
  const std::string id_;
  const absl::Time deadline_;
  const QueryLimits limits_;
  // Set before the query is registered, never changed after: which agent is which target.
  std::vector<Target> targets_;  // in id order; states guarded by mu_
  absl::flat_hash_map<std::string, size_t> index_;
  int64_t asked_ = 0;
  int64_t offline_ = 0;
  // Some targets were asked through other replicas.
  bool forwarded_ = false;

  absl::Mutex mu_;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool timed_out_ ABSL_GUARDED_BY(mu_) = false;
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;
  int64_t answered_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t errors_ ABSL_GUARDED_BY(mu_) = 0;
  // Results not taken yet, and the bytes they count for against limits_.max_bytes.
  std::deque<v1::QueryRows> buffer_ ABSL_GUARDED_BY(mu_);
  int64_t buffered_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // What the Take in progress gathers up to.
  int64_t gather_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

// Thread-safe. Every RunningQuery must be destroyed before the router (a query calls into its
// router when its caller lets go).
class QueryRouter final : public QueryReportSink {
 public:
  // `mailbox`, `state` and `clock` are not owned and outlive the router.
  QueryRouter(AgentMailbox& mailbox, AgentStateTracker& state, Clock& clock, QueryLimits limits);
  ~QueryRouter() override;

  QueryRouter(const QueryRouter&) = delete;
  QueryRouter& operator=(const QueryRouter&) = delete;

  // Starts `request`: asks its targets online now. RESOURCE_EXHAUSTED when as many queries run
  // as the limit allows. A query with no target online has ended when it is returned.
  absl::StatusOr<std::unique_ptr<RunningQuery>> Start(QueryRequest request);

  // QueryReportSink: on completion-queue threads; appends and signals, nothing more.
  void QueryResultReported(const std::string& agent_id, const v1::QueryResult& result) override;

  // fleetd is shutting down: ends every running query now, marked interrupted (its caller takes
  // what came and the summary at once, not when the server cancels the call), and refuses
  // queries started from now on with UNAVAILABLE. Idempotent.
  void Interrupt();

  // Queries running now (for metrics).
  int64_t running();
  // Shared store: where targets online through other replicas are asked; set before queries
  // start, cleared before the forwarder goes.
  void SetForwarder(QueryForwarder* forwarder);
  const QueryLimits& limits() const { return limits_; }

 private:
  friend class RunningQuery;
  // The query leaves the router; its mail leaves the mailbox.
  void Finish(RunningQuery& query);

  AgentMailbox& mailbox_;     // not owned
  AgentStateTracker& state_;  // not owned
  Clock& clock_;              // not owned
  const QueryLimits limits_;
  std::atomic<QueryForwarder*> forwarder_{nullptr};  // not owned

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, RunningQuery*> queries_ ABSL_GUARDED_BY(mu_);  // not owned
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_QUERY_ROUTER_H_
