// An agent's credentials in its record (records.proto's AgentRecord, admin.proto's Agent), and
// their rotation (agent.proto, "Credential rotation"): the current secret's hash, the pending
// one's, when the current one was issued, and the operator's request. Every writer changes them
// through these functions, so that the fields stay consistent whoever writes them (an admin
// request, the agent's stream on this or another fleetd).
#ifndef FLEETD_SERVER_MODEL_AGENT_CREDENTIALS_H_
#define FLEETD_SERVER_MODEL_AGENT_CREDENTIALS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "fleet/v1/admin.pb.h"
#include "server/model/records.pb.h"

namespace fleet::server {

// When the agent's current secret was issued: secret_issued_at, or for records written before
// fleetd rotated secrets (which have none), the enrollment time.
absl::Time SecretIssuedAt(const v1::Agent& agent);

// Fills secret_issued_at from the enrollment time when it is unset, for views.
void ShowSecretIssuedAt(v1::Agent& agent);

// Whether a rotation is asked for: an operator's request, or a secret at least `max_age` old
// (zero or less: no age limit).
bool RotationDue(const record::AgentRecord& record, absl::Time now, absl::Duration max_age);

// An operator asks for a new secret at `now`. Asked again while one is pending, it asks for one
// more rotation after that one.
void RequestRotation(record::AgentRecord& record, absl::Time now);

// A new secret with hash `pending_sha256` (raw bytes, as secret_token.h makes it) is committed as
// pending at `now`, before it is sent; it replaces any pending one (an agent that reconnected
// with the old secret never saved that one).
void StartRotation(record::AgentRecord& record, std::string_view pending_sha256, absl::Time now);

// The agent holds the pending secret with hash `pending_sha256`: it becomes the current one,
// issued at `now`, the old one stops authenticating, and the operator's request is settled if it
// came before this rotation began. FAILED_PRECONDITION when that is not the pending secret (another
// rotation replaced it, or it was promoted already).
absl::Status PromotePending(record::AgentRecord& record, std::string_view pending_sha256,
                            absl::Time now);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_MODEL_AGENT_CREDENTIALS_H_
