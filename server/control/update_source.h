// Where an agent stream gets the policy update it needs next: an interface, so that the agent
// protocol (server/agent/agent_protocol.h) can be tested without a store, and implemented by the
// PolicyEngine (policy_engine.h).
#ifndef FLEETD_SERVER_CONTROL_UPDATE_SOURCE_H_
#define FLEETD_SERVER_CONTROL_UPDATE_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "fleet/v1/agent.pb.h"

namespace fleet::server {

// An update ready to go down any number of streams.
struct PreparedUpdate {
  v1::PolicyUpdate update;
  // The revision whose content the update was prepared from (0: from nothing). It is handed only
  // to an agent that holds that revision with its hash, so it confirms what the agent claims,
  // whether the update is a DELTA or, when the patch would be bigger, the FULL document.
  int64_t from_revision = 0;
  // A ServerMessage holding `update`, serialized once.
  std::string serialized_message;
};
using PreparedUpdatePtr = std::shared_ptr<const PreparedUpdate>;

// Where an agent stands, as its Hello (and later acks) say.
struct AgentPosition {
  std::string policy;       // empty before its first update
  int64_t revision = 0;     // 0 before its first update
  std::string sha256;       // of the applied content
  bool needs_full = false;  // the agent asked for a FULL document (it could not use a delta)
};

// Thread-safe implementations; calls never block on I/O (they run on completion-queue threads).
class UpdateSource {
 public:
  virtual ~UpdateSource() = default;

  // The update that brings an agent at `from` to the latest revision of `policy`; nullptr when
  // it is there already. NOT_FOUND when the policy does not exist. UNAVAILABLE when the answer
  // is not ready (the content it needs is being loaded): the source then tells its listener that
  // `policy` changed once it is, and the caller asks again. FAILED_PRECONDITION when the latest
  // revision cannot be sent at all (unreadable, or stored over the size limit before the limit
  // applied to the canonical form): nothing is offered until the policy changes again.
  //
  // The answer doubles as the check of what the agent claims to hold (the protocol records an
  // applied revision from a Hello on nothing else): nullptr only when `from` names the latest
  // revision with its hash; an update with from_revision = `from.revision` only when that is a
  // retained revision whose hash is `from.sha256`. Anything else (a revision never made or
  // pruned, another hash) gets the update from nothing (FULL, from_revision 0).
  virtual absl::StatusOr<PreparedUpdatePtr> UpdateFor(const std::string& policy,
                                                      const AgentPosition& from) = 0;
};

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_UPDATE_SOURCE_H_
