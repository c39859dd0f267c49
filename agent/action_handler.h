// What an agent does with the actions fleetd sends (agent.proto, "Actions"): the agent software
// implements ActionHandler and hands it to its connection (ConnectionProtocolOptions::actions).
// The connection deduplicates by id (action_ledger.h), so a handler sees each action once however
// often fleetd sends it again after reconnects, and it never sees an ActionCancel for an action it
// was not given or that has finished.
#ifndef FLEETD_AGENT_ACTION_HANDLER_H_
#define FLEETD_AGENT_ACTION_HANDLER_H_

#include <optional>
#include <string>

#include "fleet/v1/agent.pb.h"

namespace fleet::agent {

// Called inside the connection's events, one at a time for one connection, with the connection's
// lock held (like AgentConnectionHooks): a call must return promptly (it holds up every stream of
// its completion queue) and must not call back into its connection, AgentOutbox included. Work
// that takes time runs elsewhere and reports through AgentOutbox::ReportAction from there. One
// handler may serve several connections only if it is thread-safe.
class ActionHandler {
 public:
  virtual ~ActionHandler() = default;

  // A new action (its id not seen on this connection before). Returns its first status, which
  // the connection records and sends: ACCEPTED when it will run (RUNNING and a final state follow
  // through ReportAction), REJECTED with a message when the agent will not run that type or those
  // arguments, or a final state when it already ran. The id is the action's whatever the handler
  // sets; a status without a valid state is sent as REJECTED.
  virtual v1::ActionStatus OnAction(const v1::AgentAction& action) = 0;

  // fleetd asks to stop action `id` (received, and not in a final state). Returns CANCELLED (or
  // another final state) when it stopped, which the connection records and sends; nullopt when
  // it goes on, and then reports its final state through ReportAction.
  virtual std::optional<v1::ActionStatus> OnCancel(const std::string& id) = 0;
};

}  // namespace fleet::agent

#endif  // FLEETD_AGENT_ACTION_HANDLER_H_
