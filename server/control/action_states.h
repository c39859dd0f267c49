// What an action's targets, and the action itself, are in (admin.proto ActionTargetState and
// ActionState): which target states are final, how far along each is, what an agent's report
// moves a target to, and the action's overall state from its counts.
#ifndef FLEETD_SERVER_CONTROL_ACTION_STATES_H_
#define FLEETD_SERVER_CONTROL_ACTION_STATES_H_

#include "fleet/v1/admin.pb.h"
#include "fleet/v1/agent.pb.h"

namespace fleet::server {

// Succeeded, failed, rejected, expired or cancelled: nothing moves the target on.
bool IsFinalTargetState(int state);

// How far along a target state is (pending 0, delivered 1, running 2, final 3): a report never
// moves a target to a lower rank.
int TargetStateRank(int state);

// The target state an agent's report says (ACCEPTED: delivered); unspecified for a state the
// agent may not report.
v1::ActionTargetState TargetStateOf(v1::ActionStatus::State reported);

// The overall state of an action with its counts: ACTIVE while some target is not final; then
// CANCELLED when it was cancelled, EXPIRED when some target expired, DONE otherwise.
v1::ActionState ActionStateOf(const v1::Action& action);

}  // namespace fleet::server

#endif  // FLEETD_SERVER_CONTROL_ACTION_STATES_H_
