// How an agent's handlers answer after they returned: later action statuses, query results, and
// the restart that ends an upgrade. AgentConnection implements it; tests fake it.
#ifndef FLEETD_AGENT_AGENT_OUTBOX_H_
#define FLEETD_AGENT_AGENT_OUTBOX_H_

#include <string>

#include "absl/status/status.h"
#include "fleet/v1/agent.pb.h"

namespace fleet::agent {

// Thread-safe, but never to be called from inside the connection's own events (its handlers and
// hooks run with its lock held): call it from another thread, e.g. a timer's.
class AgentOutbox {
 public:
  // Records a later status of an action the connection received and sends it when a stream is
  // open (else fleetd sends the action again on the next stream and is answered from the record).
  // NOT_FOUND when the action was never received (or finished long ago and is forgotten);
  // FAILED_PRECONDITION when it is already in a final state (a final state never changes);
  // INVALID_ARGUMENT naming the field when the status is out of bounds (no valid state, progress
  // outside 0..100, output over 64 KiB). Nothing is sent on an error.
  [[nodiscard]] virtual absl::Status ReportAction(v1::ActionStatus status) = 0;

  // Sends a result of a query received on the open stream; `last` ends the query. NOT_FOUND when
  // no such query is open on this stream (never received, already answered with `last`, or its
  // stream has ended); DEADLINE_EXCEEDED when its deadline has passed (the query is then closed);
  // INVALID_ARGUMENT naming the field when rows_json is over 1 MiB or not a JSON array of objects.
  [[nodiscard]] virtual absl::Status SendQueryResult(v1::QueryResult result) = 0;

  // The agent software "restarted" as `agent_version` (after an upgrade): the open stream is
  // half-closed after what is queued, and the next one opens at once with agent_version in its
  // Hello (empty: as enrolled). Reports of running actions survive it.
  virtual void Restart(std::string agent_version) = 0;

 protected:
  ~AgentOutbox() = default;
};

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_AGENT_OUTBOX_H_
