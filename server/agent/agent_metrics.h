// The agent API's instruments (docs/operations.md lists them): streams, updates, answers,
// rollout convergence and enrollments. Resolved once, when the AgentService is built; the
// protocol and the service record with atomic adds.
#ifndef FLEETD_SERVER_AGENT_AGENT_METRICS_H_
#define FLEETD_SERVER_AGENT_AGENT_METRICS_H_

#include <cstddef>
#include <optional>

#include "absl/time/time.h"
#include "common/metrics/registry.h"

namespace fleet::server {

// The instruments live in the registry, which outlives this.
struct AgentMetrics {
  explicit AgentMetrics(metrics::Registry& registry);

  // A policy update of `bytes` bytes went down a stream.
  void UpdateSent(bool full, size_t bytes) const;
  // An agent answered an update; `since_commit` is the time from the revision's commit to the
  // Ack, for an Ack of the content sent (nullopt otherwise).
  void Answered(bool acked, std::optional<absl::Duration> since_commit) const;

  metrics::Counter& streams_opened;
  metrics::Counter& full_updates;
  metrics::Counter& delta_updates;
  metrics::Counter& update_bytes;
  metrics::Counter& acks;
  metrics::Counter& nacks;
  // From a revision's commit to an agent's Ack of it, in seconds.
  metrics::Histogram& convergence;
  // By result: "ok", or the lowercase gRPC code of the refusal.
  metrics::Family<metrics::Counter>& enrollments;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_AGENT_METRICS_H_
