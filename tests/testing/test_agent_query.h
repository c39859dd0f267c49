// Live queries on a TestAgent's stream (test_agent.h): read the next AgentQuery, answer it.
#ifndef FLEETD_TESTS_TESTING_TEST_AGENT_QUERY_H_
#define FLEETD_TESTS_TESTING_TEST_AGENT_QUERY_H_

#include <optional>
#include <string>

#include "fleet/v1/agent.pb.h"
#include "tests/testing/test_agent.h"

namespace fleet::testing {

// Reads up to the next AgentQuery (skipping other messages); nullopt when the stream ends first.
inline std::optional<v1::AgentQuery> NextQuery(TestAgent& agent) {
  while (std::optional<v1::ServerMessage> message = agent.Read()) {
    if (message->has_query()) return message->query();
  }
  return std::nullopt;
}

// Sends one QueryResult of query `id`.
inline bool SendQueryResult(TestAgent& agent, const std::string& id, const std::string& rows_json,
                            bool last = true, const std::string& error = "") {
  v1::AgentMessage message;
  v1::QueryResult& result = *message.mutable_query_result();
  result.set_id(id);
  result.set_rows_json(rows_json);
  result.set_error(error);
  result.set_last(last);
  return agent.Send(message);
}

}  // namespace fleet::testing

#endif  // FLEETD_TESTS_TESTING_TEST_AGENT_QUERY_H_
