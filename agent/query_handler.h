// What an agent does with the live queries fleetd sends (agent.proto, "Live queries"): the agent
// software implements QueryHandler and hands it to its connection
// (ConnectionProtocolOptions::queries). A query is ephemeral: it belongs to the stream it came
// on, and its results can be sent only on that stream, until one of them says `last`.
#ifndef FLEETD_AGENT_QUERY_HANDLER_H_
#define FLEETD_AGENT_QUERY_HANDLER_H_

#include <optional>

#include "fleet/v1/agent.pb.h"

namespace fleet::agent {

// Called inside the connection's events, with the connection's lock held (like ActionHandler):
// a call must return promptly and must not call back into its connection. A query that takes
// time runs elsewhere and answers through AgentOutbox::SendQueryResult before its deadline.
class QueryHandler {
 public:
  virtual ~QueryHandler() = default;

  // A query received on the open stream. Returns its whole answer when it has one at once (the
  // connection sends it as the last result, with the query's id), or nullopt when the results
  // follow through SendQueryResult, the last with `last` set.
  virtual std::optional<v1::QueryResult> OnQuery(const v1::AgentQuery& query) = 0;
};

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_QUERY_HANDLER_H_
