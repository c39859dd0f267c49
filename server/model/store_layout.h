// Where the admin side keeps its records in the Store: every key is built here and nowhere else.
//
//   /policies/NAME                     record::PolicyHead
//   /policy_revisions/NAME/REVISION    v1::Policy (REVISION zero-padded to 20 digits)
//   /policy_refs/NAME                  empty; rewritten by every transaction that makes an agent
//                                      or token refer to the policy, so that deleting the policy
//                                      can compare on it and never leave a dangling reference
//   /enrollment_tokens/ID              record::EnrollmentTokenRecord
//   /admin_tokens/ID                   record::AdminTokenRecord
//   /agents/ID                         record::AgentRecord
//   /agent_status/ID                   record::AgentStatusRecord, in the unlogged state
//                                      (Store::PutState), not among the revisioned keys
//   /actions/ID                        record::ActionRecord
//   /action_targets/ID/CHUNK           record::ActionTargetChunk (CHUNK zero-padded to 6 digits)
//   /action_results/ID/AGENT           record::ActionResultRecord, in the unlogged state
//   /replicas/ID                       record::ReplicaRecord, under the replica's lease (shared
//                                      stores only)
//   /sessions/ID                       record::AgentStatusRecord of an agent, written by the
//                                      replica holding its stream, under that replica's lease
//                                      (shared stores only): how the replicas share live state
//   /query_asks/QUERY/REPLICA/PART     record::QueryAsk: a part of a live query's targets that
//                                      REPLICA holds (as many as one transaction takes), under
//                                      the asking replica's lease (shared stores)
//   /query_results/QUERY/REPLICA/PART/SEQ
//                                      record::QueryResultBatch: that part's answers, under
//                                      REPLICA's lease, deleted when the query ends (shared
//                                      stores)
//   /health_probe                      the time of fleetd's latest readiness probe, unlogged:
//                                      written to prove the store writable
#ifndef FLEETD_SERVER_MODEL_STORE_LAYOUT_H_
#define FLEETD_SERVER_MODEL_STORE_LAYOUT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace fleet::server::layout {

inline constexpr char kPolicies[] = "/policies/";
inline constexpr char kPolicyRevisions[] = "/policy_revisions/";
// What every policy key above starts with: one watch on it follows all of them.
inline constexpr char kPolicyKeys[] = "/polic";
inline constexpr char kEnrollmentTokens[] = "/enrollment_tokens/";
inline constexpr char kAdminTokens[] = "/admin_tokens/";
inline constexpr char kAgents[] = "/agents/";
inline constexpr char kAgentStatus[] = "/agent_status/";
inline constexpr char kHealthProbe[] = "/health_probe";
inline constexpr char kReplicas[] = "/replicas/";
inline constexpr char kSessions[] = "/sessions/";
inline constexpr char kQueryAsks[] = "/query_asks/";
inline constexpr char kQueryResults[] = "/query_results/";
inline constexpr char kActions[] = "/actions/";
inline constexpr char kActionTargets[] = "/action_targets/";
// What both action keys above start with: one watch on it follows both.
inline constexpr char kActionKeys[] = "/action";
inline constexpr char kActionResults[] = "/action_results/";
// Target ids per /action_targets/ chunk: 10,000 ids of 12 bytes stay far below every backend's
// value limit (and etcd's default request limit of 1.5 MiB).
inline constexpr int kActionTargetsPerChunk = 10'000;

inline std::string ReplicaKey(std::string_view id) {
  return absl::StrCat(kReplicas, std::string(id));
}
inline std::string SessionKey(std::string_view agent_id) {
  return absl::StrCat(kSessions, std::string(agent_id));
}
inline std::string QueryAskPrefix(std::string_view query_id) {
  return absl::StrCat(kQueryAsks, std::string(query_id), "/");
}
inline std::string QueryResultPrefix(std::string_view query_id, std::string_view replica = "") {
  return replica.empty()
             ? absl::StrCat(kQueryResults, std::string(query_id), "/")
             : absl::StrCat(kQueryResults, std::string(query_id), "/", std::string(replica), "/");
}
inline std::string QueryAskKey(std::string_view query_id, std::string_view replica, int part) {
  return absl::StrCat(QueryAskPrefix(query_id), std::string(replica), "/",
                      absl::Dec(part, absl::kZeroPad4));
}
inline std::string QueryPartResultPrefix(std::string_view query_id, std::string_view replica,
                                         std::string_view part) {
  return absl::StrCat(QueryResultPrefix(query_id, replica), std::string(part), "/");
}
inline std::string PolicyKey(std::string_view name) {
  return absl::StrCat(kPolicies, std::string(name));
}
inline std::string PolicyRevisionPrefix(std::string_view name) {
  return absl::StrCat(kPolicyRevisions, std::string(name), "/");
}
inline std::string PolicyRevisionKey(std::string_view name, int64_t revision) {
  return absl::StrCat(PolicyRevisionPrefix(name), absl::StrFormat("%020d", revision));
}
inline std::string PolicyRefsKey(std::string_view name) {
  return absl::StrCat("/policy_refs/", std::string(name));
}
inline std::string EnrollmentTokenKey(std::string_view id) {
  return absl::StrCat(kEnrollmentTokens, std::string(id));
}
inline std::string AdminTokenKey(std::string_view id) {
  return absl::StrCat(kAdminTokens, std::string(id));
}
inline std::string AgentKey(std::string_view id) { return absl::StrCat(kAgents, std::string(id)); }
inline std::string AgentStatusKey(std::string_view id) {
  return absl::StrCat(kAgentStatus, std::string(id));
}

inline std::string ActionKey(std::string_view id) {
  return absl::StrCat(kActions, std::string(id));
}
inline std::string ActionTargetPrefix(std::string_view id) {
  return absl::StrCat(kActionTargets, std::string(id), "/");
}
inline std::string ActionTargetKey(std::string_view id, int chunk) {
  return absl::StrCat(ActionTargetPrefix(id), absl::StrFormat("%06d", chunk));
}
inline std::string ActionResultPrefix(std::string_view id) {
  return absl::StrCat(kActionResults, std::string(id), "/");
}
inline std::string ActionResultKey(std::string_view id, std::string_view agent_id) {
  return absl::StrCat(ActionResultPrefix(id), std::string(agent_id));
}

}  // namespace fleet::server::layout

#endif  // FLEETD_SERVER_MODEL_STORE_LAYOUT_H_
