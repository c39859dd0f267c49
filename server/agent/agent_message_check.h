// The bounds on what an agent sends on its Connect stream (agent.proto states each next to its
// field), checked before anything of a message is kept, so that no agent can corrupt or bloat
// the state every admin view reads: what cutting cannot mend (too many components, a bad key, a
// value outside an enum, a policy name or hash of the wrong shape) is refused; text meant for
// people (Nack.reason, StatusReport.message, component values) is kept cut at a UTF-8 character
// boundary, any ill-formed byte replaced by U+FFFD.
#ifndef FLEETD_SERVER_AGENT_AGENT_MESSAGE_CHECK_H_
#define FLEETD_SERVER_AGENT_AGENT_MESSAGE_CHECK_H_

#include <cstddef>

#include "absl/status/status.h"
#include "fleet/v1/agent.pb.h"
#include "server/model/records.pb.h"

namespace fleet::server {

// Nack.reason and StatusReport.message: kept up to this many bytes.
inline constexpr size_t kMaxAgentTextBytes = 1024;
// StatusReport.components: at most this many entries (refused beyond), keys of 1 to this many
// bytes of UTF-8 without control characters (refused otherwise), values kept up to this many.
inline constexpr size_t kMaxComponents = 64;
inline constexpr size_t kMaxComponentKeyBytes = 63;
inline constexpr size_t kMaxComponentValueBytes = 256;
// Hello.applied_sha256 and Ack.sha256: a SHA-256 in hex; longer is refused.
inline constexpr size_t kMaxSha256Bytes = 64;
// CredentialsConfirmed.agent_secret: longer is refused (a secret is 82 bytes).
inline constexpr size_t kMaxAgentSecretBytes = 128;
// Hello.agent_version: longer is refused.
inline constexpr size_t kMaxAgentVersionBytes = 64;
// ActionStatus.id and QueryResult.id: longer is refused (ids are 12 bytes).
inline constexpr size_t kMaxReportIdBytes = 64;
// ActionStatus.output: longer is refused.
inline constexpr size_t kMaxActionOutputBytes = 64 * 1024;
// QueryResult.rows_json: longer is refused.
inline constexpr size_t kMaxQueryRowsBytes = 1024 * 1024;

// OK, or INVALID_ARGUMENT naming the field (and quoting at most 64 bytes of a bad value):
// Hello.policy that is neither empty nor a policy name, a negative Hello.applied_revision, a
// hash longer than kMaxSha256Bytes, a CredentialsConfirmed.agent_secret longer than
// kMaxAgentSecretBytes, StatusReport.health outside its enum, or components beyond
// the bounds above; a Hello.agent_version longer than kMaxAgentVersionBytes; an ActionStatus
// with an empty or overlong id, a state that is unset or outside its enum, progress outside 0 to
// 100 or output over kMaxActionOutputBytes; a QueryResult with an empty or overlong id, or
// rows_json over kMaxQueryRowsBytes or not a JSON array of objects (empty counts as []). Text
// fields are never refused for their length or their bytes.
absl::Status CheckAgentMessage(const v1::AgentMessage& message);

// The report as kept: ActionStatus.message and QueryResult.error cut to kMaxAgentTextBytes at a
// UTF-8 character boundary, any ill-formed byte replaced by U+FFFD (output, checked as UTF-8 by
// protobuf, is kept whole). For a message CheckAgentMessage passed.
v1::ActionStatus KeptActionStatus(const v1::ActionStatus& status);
v1::QueryResult KeptQueryResult(const v1::QueryResult& result);

// Keeps a report that CheckAgentMessage passed in `state`: health, message and components, the
// text cut to its bound.
void KeepStatusReport(const v1::StatusReport& report, record::AgentStatusRecord& state);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_AGENT_AGENT_MESSAGE_CHECK_H_
