// Where an agent stream's protocol (server/agent/agent_protocol.h) hands what agents report about
// actions and live queries: the ActionEngine (action_engine.h) and the QueryRouter
// (query_router.h) implement them. Interfaces, so that the protocol is tested without either.
#ifndef FLEETD_SERVER_CONTROL_AGENT_REPORTS_H_
#define FLEETD_SERVER_CONTROL_AGENT_REPORTS_H_

#include <string>

#include "absl/status/status.h"
#include "fleet/v1/agent.pb.h"

namespace fleet::server {

// Thread-safe implementations; called on completion-queue threads: in-memory work only, never
// blocking on I/O (durability comes from batched writes).
class ActionReportSink {
 public:
  virtual ~ActionReportSink() = default;
  // `agent_id` reports `status` (already checked against agent_message_check.h's bounds, its
  // text cut: KeptActionStatus). OK
  // when taken or deliberately ignored (the target is in a final state already, the action
  // expired); NOT_FOUND when the agent is no target of an action with that id: the stream then
  // ends with INVALID_ARGUMENT.
  virtual absl::Status ActionStatusReported(const std::string& agent_id,
                                            const v1::ActionStatus& status) = 0;
};

class QueryReportSink {
 public:
  virtual ~QueryReportSink() = default;
  // `agent_id` sends results (already checked against the bounds: rows_json is empty or a JSON
  // array of objects; the error cut: KeptQueryResult) of a query its stream may have been sent;
  // results of a query that ended, or after the agent's last, are dropped.
  virtual void QueryResultReported(const std::string& agent_id, const v1::QueryResult& result) = 0;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_AGENT_REPORTS_H_
